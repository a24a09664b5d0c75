#pragma version(1)
#pragma rs java_package_name(com.example.blur)

rs_allocation gIn;
float gRadius;

uchar4 RS_KERNEL blur(uint32_t x, uint32_t y) {
    float4 sum = rsUnpackColor8888(rsGetElementAt_uchar4(gIn, x, y));
    return rsPackColorTo8888(sum);
}

#import "Calculator.h"

@implementation Calculator

- (instancetype)init {
    self = [super init];
    if (self) {
        _memory = 0;
    }
    return self;
}

- (double)add:(double)a to:(double)b {
    return a + b;
}

@end

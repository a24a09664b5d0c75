#version 330 core
in vec2 uv;
out vec4 color;
uniform sampler2D tex;

void main() {
    color = texture(tex, uv) * vec4(1.0, 0.9, 0.9, 1.0);
}

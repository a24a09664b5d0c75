#ifndef MATRIX_OPS_H
#define MATRIX_OPS_H

#ifdef __cplusplus
extern "C" {
#endif

#define MAT_IDX(m, r, c) ((m)->data[(r) * (m)->cols + (c)])

typedef struct {
    int rows, cols;
    double *data;
} matrix;

matrix *mat_alloc(int rows, int cols);
void mat_mul(const matrix *a, const matrix *b, matrix *out);
static inline double mat_trace(const matrix *m) {
    double t = 0.0;
    for (int i = 0; i < m->rows && i < m->cols; i++) t += MAT_IDX(m, i, i);
    return t;
}

#ifdef __cplusplus
}
#endif
#endif

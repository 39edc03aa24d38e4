/*
 * One pass of a checkpoint tensor's statistics over a float32 or bfloat16 chunk.
 *
 * Why by hand: numpy has no fused reduction. The same figures through numpy take about
 * seven passes over each block (min, max, a zero test and its count, a float64 copy, a sum
 * and a sum of squares), which leaves the statistics at ~0.7 of a bare read-and-sum of the
 * file (docs/performance.md); neither bottleneck nor numexpr fuses them either, and
 * numba's import and JIT cost more than a small run's whole analysis. This loop reads each
 * element once, widens it to float64 and folds it into every figure at once.
 *
 * The module is optional: setup.py builds it when a C compiler is there, and
 * forensics/readers/tensorstats.py falls back to its numpy passes when it is not
 * (same figures; tests run both).
 *
 * fold(buffer, bfloat16, shift) -> (finite, nan, posinf, neginf, zeros, min, max, s1, s2)
 *
 *   buffer    a C-contiguous buffer of float32 values, or of bfloat16 bit patterns (uint16)
 *   shift     a float64 subtracted from every finite value before the sums (a running mean:
 *             sums of deviations from it lose nothing to cancellation)
 *   s1, s2    sum of (x - shift) and of (x - shift)**2 over the finite elements, in float64
 *   min, max  over the finite elements (+inf / -inf when there is none)
 *   zeros     elements equal to zero (+0 and -0)
 *
 * Sums are accumulated in float64 over sub-blocks of SUB elements (in as many accumulators as
 * the vector unit has lanes), and the sub-block totals added in float64: the rounding error stays below
 * ~(SUB / 2 + n / SUB) float64 ulps of the sum of magnitudes, under 1e-12 relative for a
 * chunk of a million elements. A float32 value cannot overflow a float64 sum or square, so
 * a sub-block's sums are finite exactly when its elements all are: the fast loop has no
 * branch, and only a sub-block whose sums are not finite is read again element by element
 * to count its NaN and infinities and leave them out.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define SUB 2048

/* x86-64's baseline (SSE2) holds two float64 lanes; AVX2 holds four. The loops are built for
   both and the loader picks what the CPU has (function multiversioning, which needs the ifunc
   of Linux's loader). */
#if defined(__x86_64__) && defined(__linux__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef VECTOR_CLONES
#define VECTOR_CLONES
#endif

typedef struct {
    Py_ssize_t finite, nan, posinf, neginf, zeros;
    float min, max;
    double s1, s2;
} Stats;

static inline float bf16_value(uint16_t bits)
{
    uint32_t wide = (uint32_t)bits << 16;
    float value;
    memcpy(&value, &wide, sizeof value);
    return value;
}

/* Element by element, for a sub-block that holds a NaN or an infinity. */
#define SLOW_LOOP(LOAD)                                                                                \
    for (Py_ssize_t i = 0; i < n; i++) {                                                                \
        float v = LOAD(i);                                                                             \
        if (isnan(v)) {                                                                                \
            st->nan++;                                                                                 \
        } else if (isinf(v)) {                                                                         \
            if (v > 0)                                                                                 \
                st->posinf++;                                                                          \
            else                                                                                       \
                st->neginf++;                                                                          \
        } else {                                                                                       \
            double d = (double)v - shift;                                                              \
            st->s1 += d;                                                                               \
            st->s2 += d * d;                                                                           \
            st->finite++;                                                                              \
            st->zeros += (v == 0.0f);                                                                  \
            if (v < st->min)                                                                           \
                st->min = v;                                                                           \
            if (v > st->max)                                                                           \
                st->max = v;                                                                           \
        }                                                                                              \
    }

/* A float's bits as an int32 that sorts as the float does (negative values have their other
   bits flipped): integer min/max vectorise where float ones, with NaN's rules, do not. The map
   is its own inverse. */
static inline int32_t order_key(float v)
{
    int32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits ^ ((bits >> 31) & 0x7fffffff);
}

static inline float key_value(int32_t key)
{
    int32_t bits = key ^ ((key >> 31) & 0x7fffffff);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* The branch-free loop over one sub-block, written plainly so that the compiler vectorises it
   (its float64 sums may be reassociated: see setup.py's flags). min/max are wrong when the
   sub-block holds a NaN or an infinity, but the sums show that, and then the sub-block is
   read again by the slow loop. */
#define FAST_LOOP(LOAD)                                                                                \
    double t1 = 0.0, t2 = 0.0;                                                                         \
    int32_t kmin = INT32_MAX, kmax = INT32_MIN;                                                        \
    int z = 0;                                                                                         \
    for (Py_ssize_t i = 0; i < n; i++) {                                                               \
        float v = LOAD(i);                                                                             \
        double d = (double)v - shift;                                                                  \
        t1 += d;                                                                                       \
        t2 += d * d;                                                                                   \
        int32_t k = order_key(v);                                                                      \
        kmin = k < kmin ? k : kmin;                                                                    \
        kmax = k > kmax ? k : kmax;                                                                    \
        z += (v == 0.0f);                                                                              \
    }                                                                                                  \
    float mn = key_value(kmin), mx = key_value(kmax);

#define LOAD_F32(j) (x[j])
#define LOAD_BF16(j) (bf16_value(x[j]))

/* Adds a sub-block's fast-loop figures to st when its sums are finite (so were its elements);
   returns 0, adding nothing, when it must be read again by the slow loop. */
static inline int take_fast(Stats *st, Py_ssize_t n, double t1, double t2, Py_ssize_t z, float mn, float mx)
{
    if (!(isfinite(t1) && isfinite(t2)))
        return 0;
    st->s1 += t1;
    st->s2 += t2;
    st->finite += n;
    st->zeros += z;
    if (mn < st->min)
        st->min = mn;
    if (mx > st->max)
        st->max = mx;
    return 1;
}

VECTOR_CLONES static void sub_f32(const float *x, Py_ssize_t n, double shift, Stats *st)
{
    FAST_LOOP(LOAD_F32)
    if (!take_fast(st, n, t1, t2, z, mn, mx)) {
        SLOW_LOOP(LOAD_F32)
    }
}

VECTOR_CLONES static void sub_bf16(const uint16_t *x, Py_ssize_t n, double shift, Stats *st)
{
    FAST_LOOP(LOAD_BF16)
    if (!take_fast(st, n, t1, t2, z, mn, mx)) {
        SLOW_LOOP(LOAD_BF16)
    }
}

static PyObject *fold(PyObject *self, PyObject *args)
{
    Py_buffer view;
    int bf16;
    double shift;
    if (!PyArg_ParseTuple(args, "y*pd", &view, &bf16, &shift))
        return NULL;
    Py_ssize_t itemsize = bf16 ? 2 : 4;
    if (view.len % itemsize) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "buffer length is not a whole number of elements");
        return NULL;
    }
    Stats st = {0, 0, 0, 0, 0, INFINITY, -INFINITY, 0.0, 0.0};
    Py_ssize_t count = view.len / itemsize;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t start = 0; start < count; start += SUB) {
        Py_ssize_t n = count - start < SUB ? count - start : SUB;
        if (bf16)
            sub_bf16((const uint16_t *)view.buf + start, n, shift, &st);
        else
            sub_f32((const float *)view.buf + start, n, shift, &st);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return Py_BuildValue("(nnnnndddd)", st.finite, st.nan, st.posinf, st.neginf, st.zeros, (double)st.min,
                         (double)st.max, st.s1, st.s2);
}

static PyMethodDef methods[] = {
    {"fold", fold, METH_VARARGS, "Statistics of a float32 or bfloat16 chunk in one pass (see the module's source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tensorkernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__tensorkernel(void) { return PyModule_Create(&module); }

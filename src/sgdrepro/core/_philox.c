/* Philox4x32-10 words for a batch of runs, compiled (sgdrepro.core.seeding.RunRandom.bits).
 *
 * The same function as sgdrepro.core.seeding.philox4x32 on the counter (block, c1, c2, c3) and
 * each run's key (k0, k1): integer arithmetic only (32-bit words wrap, 32 x 32 -> 64-bit
 * products are exact), so the words are the same bits on every machine and compiler, whatever
 * the instruction set. The torch version costs ~50 ns per word at the portable ATen level, this
 * one a few. The exact steps from words to uniforms are done here too; the transcendental part
 * of Box-Muller (log, cos, sin) stays in torch, so no number changes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static inline void philox_block(uint32_t block, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                                uint32_t out[4]) {
    uint32_t x0 = block, x1 = c1, x2 = c2, x3 = c3;
    for (int round = 0; round < 10; round++) {
        if (round) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const uint64_t p0 = (uint64_t)0xD2511F53u * x0, p1 = (uint64_t)0xCD9E8D57u * x2;
        const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        x0 = hi1 ^ x1 ^ k0;
        x1 = lo1;
        x2 = hi0 ^ x3 ^ k1;
        x3 = lo0;
    }
    out[0] = x0, out[1] = x1, out[2] = x2, out[3] = x3;
}

/* What a run's row holds, from its stream of words w_0, w_1, ...:
 * WORDS   int64 w_i;
 * U32     float64 (w_i + 1/2) 2^-32 (one word per uniform, Box-Muller's input);
 * U53     float64 (m_i + 1/2) 2^-53, m_i = (w_2i >> 5) 2^26 + (w_2i+1 >> 6) (53-bit uniforms).
 * Each float is the same IEEE double operations, in the same order, as seeding.py's torch code
 * (the conversions are exact, the one rounding is m + 1/2 to nearest), so the bits agree. */
enum kind { WORDS, U32, U53 };

static void fill_rows(enum kind kind, const int64_t *keys, Py_ssize_t runs, Py_ssize_t n_out, uint32_t c1, uint32_t c2,
                      uint32_t c3, void *out) {
    const Py_ssize_t n_words = kind == U53 ? 2 * n_out : n_out;
    for (Py_ssize_t r = 0; r < runs; r++) {
        const uint32_t k0 = (uint32_t)keys[2 * r], k1 = (uint32_t)keys[2 * r + 1];
        int64_t *words_row = (int64_t *)out + r * n_out;
        double *float_row = (double *)out + r * n_out;
        for (Py_ssize_t first = 0; first < n_words; first += 4) {
            uint32_t w[4];
            philox_block((uint32_t)(first / 4), c1, c2, c3, k0, k1, w);
            for (int j = 0; j < 4 && first + j < n_words; j++) {
                const Py_ssize_t i = first + j;
                if (kind == WORDS) {
                    words_row[i] = w[j];
                } else if (kind == U32) {
                    float_row[i] = ((double)w[j] + 0.5) * 0x1p-32;
                } else if (j % 2) {
                    const int64_t mantissa = (int64_t)(w[j - 1] >> 5) * 67108864 + (int64_t)(w[j] >> 6);
                    float_row[i / 2] = ((double)mantissa + 0.5) * 0x1p-53;
                }
            }
        }
    }
}

/* fill(kind, keys, out, c1, c2, c3): keys int64[runs, 2] (C order); out [runs, n] (C order,
 * written): int64 words (kind 0), float64 32-bit uniforms (1) or 53-bit uniforms (2). The
 * caller (seeding.py) checks dtypes; this checks the buffer sizes. */
static PyObject *fill(PyObject *self, PyObject *args) {
    Py_buffer keys, out;
    int kind;
    unsigned int c1, c2, c3;
    (void)self;
    if (!PyArg_ParseTuple(args, "iy*w*III", &kind, &keys, &out, &c1, &c2, &c3)) return NULL;
    PyObject *result = NULL;
    const Py_ssize_t item = 8, runs = keys.len / (2 * item);
    if (kind < WORDS || kind > U53 || keys.len != runs * 2 * item || !PyBuffer_IsContiguous(&keys, 'C') ||
        !PyBuffer_IsContiguous(&out, 'C') || (runs > 0 && out.len % (runs * item)) || (runs == 0 && out.len)) {
        PyErr_SetString(PyExc_ValueError, "fill: kind in 0..2, keys int64[runs, 2], out 8-byte items [runs, n], C order");
    } else {
        const Py_ssize_t n_out = runs ? out.len / (runs * item) : 0;
        Py_BEGIN_ALLOW_THREADS fill_rows((enum kind)kind, (const int64_t *)keys.buf, runs, n_out, c1, c2, c3, out.buf);
        Py_END_ALLOW_THREADS result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&keys);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"fill", fill, METH_VARARGS, "Philox4x32-10 words, or uniforms made of them, of counter (block, c1, c2, c3) per run."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_philox", .m_doc = "Compiled Philox4x32-10 (see seeding.py).", .m_size = -1,
    .m_methods = methods};

PyMODINIT_FUNC PyInit__philox(void) { return PyModule_Create(&module); }

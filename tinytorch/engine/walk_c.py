"""The CPython extension of the eager hot paths: the structural walk of the plan cache (`_Walk.add` in
engine/realize.py), graph-node construction (`UOp.__new__` / `UOp.__del__`), the common cases of eager `+ - * /` and
`Tensor._from`, and a bound plan's launcher call (`BoundPlan.run`), written in C.

Takes: for the walk, a `_Walk` (its index dict UOp -> position, nodes, parts, leaves and leaf_pos containers), the
roots to walk, the part table and its counter (realize's `_PART_IDS` and `_PART_NUMBERS`); for the rest, the classes,
tables and Python methods they stand in for (`install_nodes`, `install_tensor`).
Produces: the same mutations of the walk's containers as the Python walk `_Walk.add_py`, node for node (same order,
same part tuples numbered in the same table), and its has_assign / has_realized flags; nodes and tensors equal to
what the Python methods build (the same interned nodes), about half their cost or less. The Python code stays the
reference: each C function hands the calls it does not take to it.

The C source below is compiled at first use by the system C compiler against this interpreter's headers
(`sysconfig.get_paths()["include"]`), kept in the compile cache like the kernel launcher, and loaded as an extension
module. The walk runs with an explicit stack (graphs may be 100k nodes deep), holds a reference to everything it
keeps, and raises (never crashes) on a node, buffer or container of a kind it does not know. Without a compiler or
Python.h, after a failed build, or with WALK_C=0, `walker()` is None and everything runs in Python; NODES_C=0 keeps
the Python node and tensor construction with the C walk. DEBUG>=1 says once which walk runs and why (also in
`STATUS`).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import inspect
import os
import sys
import sysconfig
import tempfile
import threading
from typing import Any

from ..helpers import DEBUG, NODES_C, WALK_C

SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#ifdef Py_T_OBJECT_EX
#define TT_OBJECT_EX Py_T_OBJECT_EX
#else
#define TT_OBJECT_EX T_OBJECT_EX
#endif

/* Set once by setup(): the UOp class, the offsets of its slots, the ops the walk tells apart, interned names. */
static PyTypeObject *uop_type = NULL;
static Py_ssize_t off_op, off_src, off_arg, off_key, off_realized;
static PyObject *buffer_op = NULL, *assign_op = NULL;
static PyObject *s_op, *s_src, *s_arg, *s_key, *s_realized, *s_size, *s_dtype, *s_R, *s_B;
static PyObject *s_index, *s_nodes, *s_parts, *s_leaves, *s_leaf_pos, *s_has_assign, *s_has_realized;

/* A slot of a node, as a new reference: read at its offset for an exact UOp, else by attribute lookup. */
static PyObject *slot(PyObject *u, Py_ssize_t off, PyObject *name) {
  if (Py_IS_TYPE(u, uop_type)) {
    PyObject *v = *(PyObject **)((char *)u + off);
    if (v == NULL) {
      PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute '%U'", Py_TYPE(u)->tp_name, name);
      return NULL;
    }
    Py_INCREF(v);
    return v;
  }
  return PyObject_GetAttr(u, name);
}

/* Item i of a sequence (a node's key or argument), as a new reference. */
static PyObject *item(PyObject *seq, Py_ssize_t i) {
  if (PyTuple_CheckExact(seq) && i < PyTuple_GET_SIZE(seq)) {
    PyObject *v = PyTuple_GET_ITEM(seq, i);
    Py_INCREF(v);
    return v;
  }
  return PySequence_GetItem(seq, i);
}

static int member_offset(PyObject *cls, const char *name, Py_ssize_t *off) {
  PyObject *d = PyObject_GetAttrString(cls, name);
  if (d == NULL) return -1;
  if (!Py_IS_TYPE(d, &PyMemberDescr_Type) || ((PyMemberDescrObject *)d)->d_member->type != TT_OBJECT_EX) {
    PyErr_Format(PyExc_TypeError, "walk_c: %s is not an object slot of the node class", name);
    Py_DECREF(d);
    return -1;
  }
  *off = ((PyMemberDescrObject *)d)->d_member->offset;
  Py_DECREF(d);
  return 0;
}

static PyObject *intern(const char *s) { return PyUnicode_InternFromString(s); }

/* setup(UOp, Ops.BUFFER, Ops.ASSIGN) */
static PyObject *setup(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 3 || !PyType_Check(args[0])) {
    PyErr_SetString(PyExc_TypeError, "setup(node_class, buffer_op, assign_op)");
    return NULL;
  }
  PyObject *cls = args[0];
  if (member_offset(cls, "op", &off_op) || member_offset(cls, "src", &off_src) || member_offset(cls, "arg", &off_arg)
      || member_offset(cls, "_key", &off_key) || member_offset(cls, "_realized", &off_realized)) return NULL;
  if (s_op == NULL) {
    s_op = intern("op"); s_src = intern("src"); s_arg = intern("arg"); s_key = intern("_key");
    s_realized = intern("_realized"); s_size = intern("size"); s_dtype = intern("dtype");
    s_R = intern("R"); s_B = intern("B"); s_index = intern("index"); s_nodes = intern("nodes");
    s_parts = intern("parts"); s_leaves = intern("leaves"); s_leaf_pos = intern("leaf_pos");
    s_has_assign = intern("has_assign"); s_has_realized = intern("has_realized");
    if (PyErr_Occurred()) return NULL;
  }
  Py_INCREF(cls); Py_XSETREF(uop_type, (PyTypeObject *)cls);
  Py_INCREF(args[1]); Py_XSETREF(buffer_op, args[1]);
  Py_INCREF(args[2]); Py_XSETREF(assign_op, args[2]);
  Py_RETURN_NONE;
}

/* The stack of nodes still to finish; it holds a reference to each. */
typedef struct { PyObject **v; Py_ssize_t n, cap; } stack_t;

static int push(stack_t *st, PyObject *u) {  /* steals the reference to u */
  if (st->n == st->cap) {
    Py_ssize_t cap = st->cap * 2 + 64;
    PyObject **v = PyMem_Realloc(st->v, (size_t)cap * sizeof(PyObject *));
    if (v == NULL) { Py_DECREF(u); PyErr_NoMemory(); return -1; }
    st->v = v; st->cap = cap;
  }
  st->v[st->n++] = u;
  return 0;
}

/* The part of a realized node whose result r is walked: ("R", index[r]). */
static PyObject *realized_part(PyObject *pos) { return PyTuple_Pack(2, s_R, pos); }

/* The part of a buffer node: ("B", j, buf.size, buf.dtype), j its position among the leaves (a new one is added). */
static PyObject *buffer_part(PyObject *u, PyObject *leaves, PyObject *leaf_pos) {
  PyObject *arg = slot(u, off_arg, s_arg), *buf = NULL, *bid = NULL, *j = NULL, *size = NULL, *dt = NULL;
  PyObject *part = NULL;
  if (arg == NULL) return NULL;
  if ((buf = item(arg, 0)) == NULL || (bid = PyLong_FromVoidPtr(buf)) == NULL) goto done;
  j = PyDict_GetItemWithError(leaf_pos, bid);
  if (j != NULL) Py_INCREF(j);
  else {
    if (PyErr_Occurred() || (j = PyLong_FromSsize_t(PyList_GET_SIZE(leaves))) == NULL) goto done;
    if (PyDict_SetItem(leaf_pos, bid, j) < 0 || PyList_Append(leaves, buf) < 0) goto done;
  }
  if ((size = PyObject_GetAttr(buf, s_size)) == NULL || (dt = PyObject_GetAttr(buf, s_dtype)) == NULL) goto done;
  part = PyTuple_Pack(4, s_B, j, size, dt);
done:
  Py_DECREF(arg); Py_XDECREF(buf); Py_XDECREF(bid); Py_XDECREF(j); Py_XDECREF(size); Py_XDECREF(dt);
  return part;
}

/* The part of any other node: (op, dtype, argument as keyed, positions of its sources). */
static PyObject *node_part(PyObject *u, PyObject *src, PyObject *index, int *is_assign) {
  PyObject *k = slot(u, off_key, s_key), *k0 = NULL, *k1 = NULL, *k3 = NULL, *pos = NULL, *part = NULL;
  if (k == NULL) return NULL;
  if ((k0 = item(k, 0)) == NULL || (k1 = item(k, 1)) == NULL || (k3 = item(k, 3)) == NULL) goto done;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(src);
  if ((pos = PyTuple_New(n)) == NULL) goto done;
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *p = PyDict_GetItemWithError(index, PySequence_Fast_GET_ITEM(src, i));
    if (p == NULL) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "walk_c: a source left the index");
      goto done;
    }
    Py_INCREF(p);
    PyTuple_SET_ITEM(pos, i, p);
  }
  part = PyTuple_Pack(4, k0, k1, k3, pos);
  if (k0 == assign_op) *is_assign = 1;
done:
  Py_DECREF(k); Py_XDECREF(k0); Py_XDECREF(k1); Py_XDECREF(k3); Py_XDECREF(pos);
  return part;
}

static PyObject *get_typed(PyObject *w, PyObject *name, PyTypeObject *tp) {
  PyObject *v = PyObject_GetAttr(w, name);
  if (v != NULL && !Py_IS_TYPE(v, tp)) {
    PyErr_Format(PyExc_TypeError, "walk_c: %U is a %.100s, not a %.100s", name, Py_TYPE(v)->tp_name, tp->tp_name);
    Py_CLEAR(v);
  }
  return v;
}

/* walk(w, roots, part_ids, part_numbers): what _Walk.add_py(roots) does to w. */
static PyObject *walk(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "walk(w, roots, part_ids, part_numbers)");
    return NULL;
  }
  if (uop_type == NULL) {
    PyErr_SetString(PyExc_RuntimeError, "walk_c: setup() was not called");
    return NULL;
  }
  PyObject *w = args[0], *ids = args[2], *counter = args[3];
  if (!PyDict_CheckExact(ids) || !PyIter_Check(counter)) {
    PyErr_SetString(PyExc_TypeError, "walk_c: part_ids must be a dict and part_numbers an iterator");
    return NULL;
  }
  PyObject *index = NULL, *nodes = NULL, *parts = NULL, *leaves = NULL, *leaf_pos = NULL, *roots = NULL;
  PyObject *result = NULL;
  stack_t st = {NULL, 0, 0};
  int has_assign = 0, has_realized = 0;
  if ((index = get_typed(w, s_index, &PyDict_Type)) == NULL || (nodes = get_typed(w, s_nodes, &PyList_Type)) == NULL
      || (parts = get_typed(w, s_parts, &PyList_Type)) == NULL
      || (leaves = get_typed(w, s_leaves, &PyList_Type)) == NULL
      || (leaf_pos = get_typed(w, s_leaf_pos, &PyDict_Type)) == NULL
      || (roots = PySequence_Fast(args[1], "walk_c: roots must be a sequence")) == NULL) goto done;
  for (Py_ssize_t i = PySequence_Fast_GET_SIZE(roots) - 1; i >= 0; i--) {
    PyObject *r = PySequence_Fast_GET_ITEM(roots, i);
    Py_INCREF(r);
    if (push(&st, r) < 0) goto done;
  }
  while (st.n > 0) {
    PyObject *u = st.v[st.n - 1];
    int seen = PyDict_Contains(index, u);
    if (seen < 0) goto done;
    if (seen) { st.n--; Py_DECREF(u); continue; }
    PyObject *part = NULL, *r = slot(u, off_realized, s_realized);
    if (r == NULL) goto done;
    if (r != Py_None) {
      PyObject *pos = PyDict_GetItemWithError(index, r);
      if (pos == NULL) {
        if (PyErr_Occurred()) { Py_DECREF(r); goto done; }
        if (push(&st, r) < 0) goto done;  /* its result first, then u comes back */
        continue;
      }
      has_realized = 1;
      part = realized_part(pos);
      Py_DECREF(r);
    } else {
      Py_DECREF(r);
      PyObject *op = slot(u, off_op, s_op);
      if (op == NULL) goto done;
      int is_buffer = op == buffer_op;
      Py_DECREF(op);
      if (is_buffer) part = buffer_part(u, leaves, leaf_pos);
      else {
        PyObject *s = slot(u, off_src, s_src), *src;
        if (s == NULL) goto done;
        src = PySequence_Fast(s, "walk_c: a node's src must be a sequence");
        Py_DECREF(s);
        if (src == NULL) goto done;
        int waiting = 0;  /* every source not walked yet goes on the stack, then u comes back */
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(src); i++) {
          PyObject *x = PySequence_Fast_GET_ITEM(src, i);
          int in = PyDict_Contains(index, x);
          if (in < 0) { Py_DECREF(src); goto done; }
          if (!in) {
            Py_INCREF(x);
            if (push(&st, x) < 0) { Py_DECREF(src); goto done; }
            waiting = 1;
          }
        }
        if (!waiting) part = node_part(u, src, index, &has_assign);
        Py_DECREF(src);
        if (waiting) continue;
      }
    }
    if (part == NULL) goto done;
    /* u is finished: its position, and its part's number (a new part takes the counter's next number) */
    st.n--;
    PyObject *at = PyLong_FromSsize_t(PyList_GET_SIZE(nodes)), *num = NULL;
    int bad = at == NULL || PyDict_SetItem(index, u, at) < 0 || PyList_Append(nodes, u) < 0;
    Py_XDECREF(at);
    Py_DECREF(u);
    if (!bad && (num = PyDict_GetItemWithError(ids, part)) == NULL) {
      PyObject *fresh = PyErr_Occurred() ? NULL : PyIter_Next(counter);
      if (fresh == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "walk_c: the part counter ended");
        bad = 1;
      } else {
        num = PyDict_SetDefault(ids, part, fresh);
        Py_DECREF(fresh);
        bad = num == NULL;
      }
    }
    if (!bad && PyList_Append(parts, num) < 0) bad = 1;
    Py_DECREF(part);
    if (bad) goto done;
  }
  if ((has_assign && PyObject_SetAttr(w, s_has_assign, Py_True) < 0)
      || (has_realized && PyObject_SetAttr(w, s_has_realized, Py_True) < 0)) goto done;
  result = Py_None;
  Py_INCREF(result);
done:
  while (st.n > 0) { st.n--; Py_DECREF(st.v[st.n]); }
  PyMem_Free(st.v);
  Py_XDECREF(index); Py_XDECREF(nodes); Py_XDECREF(parts); Py_XDECREF(leaves); Py_XDECREF(leaf_pos);
  Py_XDECREF(roots);
  return result;
}

/* ---------------------------------------------------------------- node construction (UOp.__new__, UOp.__del__)
   The same table and keys as the Python methods in ops/uop.py (which stay the reference, and take every call the
   C path does not: keyword arguments, a source that is not a tuple, a shape rule that is a function). */
static PyObject *table = NULL, *rules = NULL, *rule_last = NULL, *rule_arg = NULL, *py_new = NULL;
static PyObject *s_f = NULL, *s_shape = NULL, *empty = NULL;
#if PY_VERSION_HEX < 0x030B0000
#define PyFloat_Pack8(x, p, le) _PyFloat_Pack8((x), (unsigned char *)(p), (le))
#endif
static Py_ssize_t off_dtype, off_shape, off_tag;

/* The object a weak reference points to, as a new reference, or NULL (dead; no error set). */
static PyObject *deref(PyObject *ref) {
  if (!PyWeakref_Check(ref)) return NULL;
#if PY_VERSION_HEX >= 0x030D0000
  PyObject *u = NULL;
  if (PyWeakref_GetRef(ref, &u) < 0) PyErr_Clear();
  return u;
#else
  PyObject *u = PyWeakref_GET_OBJECT(ref);
  if (u == Py_None) return NULL;
  Py_INCREF(u);
  return u;
#endif
}

static void set_slot(PyObject *u, Py_ssize_t off, PyObject *v) {  /* steals v; the slot was NULL */
  *(PyObject **)((char *)u + off) = v;
}

/* install_nodes(UOp, table, shape_rules, last_source_tag, arg_tag, python_new) */
static PyObject *install_nodes(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 6 || !PyType_Check(args[0]) || (PyTypeObject *)args[0] != uop_type || !PyDict_CheckExact(args[1])
      || !PyDict_CheckExact(args[2])) {
    PyErr_SetString(PyExc_TypeError, "install_nodes(node_class, table, shape_rules, last_tag, arg_tag, py_new)");
    return NULL;
  }
  PyObject *cls = args[0];
  if (member_offset(cls, "dtype", &off_dtype) || member_offset(cls, "shape", &off_shape)
      || member_offset(cls, "_tag", &off_tag)) return NULL;
  if (s_f == NULL && ((s_f = intern("f")) == NULL || (s_shape = intern("shape")) == NULL
                     || (empty = PyTuple_New(0)) == NULL)) return NULL;
  for (int i = 1; i < 6; i++) Py_INCREF(args[i]);
  Py_XSETREF(table, args[1]); Py_XSETREF(rules, args[2]); Py_XSETREF(rule_last, args[3]);
  Py_XSETREF(rule_arg, args[4]); Py_XSETREF(py_new, args[5]);
  Py_RETURN_NONE;
}

/* UOp.__new__(cls, op, dtype, src=(), arg=None) */
static PyObject *uop_new(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
  Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (table == NULL || kwnames != NULL || nargs < 3 || nargs > 5 || args[0] != (PyObject *)uop_type
      || (nargs >= 4 && !PyTuple_CheckExact(args[3])))
    return py_new == NULL ? (PyErr_SetString(PyExc_RuntimeError, "walk_c: install_nodes() was not called"), NULL)
                          : PyObject_Vectorcall(py_new, args, nargsf, kwnames);
  PyObject *op = args[1], *dtype = args[2], *src = nargs >= 4 ? args[3] : empty, *arg = nargs == 5 ? args[4] : Py_None;
  PyObject *karg, *key, *ref, *u = NULL, *shape = NULL;
  /* floats are keyed by their bits: -0.0 is not 0.0, and NaN equals itself */
  if (PyFloat_CheckExact(arg)) {
    char bits[8];
    if (PyFloat_Pack8(PyFloat_AS_DOUBLE(arg), bits, 1) < 0) return NULL;
    PyObject *b = PyBytes_FromStringAndSize(bits, 8);
    if (b == NULL) return NULL;
    karg = PyTuple_Pack(2, s_f, b);
    Py_DECREF(b);
    if (karg == NULL) return NULL;
  } else {
    karg = arg;
    Py_INCREF(karg);
  }
  key = PyTuple_Pack(4, op, dtype, src, karg);
  Py_DECREF(karg);
  if (key == NULL) return NULL;
  ref = PyDict_GetItemWithError(table, key);
  if (ref != NULL && (u = deref(ref)) != NULL) { Py_DECREF(key); return u; }
  if (PyErr_Occurred()) goto fail;
  /* the shape: two rules inline (the last source's shape; the argument as a shape), other rules are functions */
  PyObject *rule = PyDict_GetItemWithError(rules, op);
  if (rule == NULL) {
    if (PyErr_Occurred()) goto fail;
    shape = Py_None; Py_INCREF(shape);
  } else if (rule == rule_last) {
    Py_ssize_t n = PyTuple_GET_SIZE(src);
    if (n == 0) { Py_DECREF(key); return PyObject_Vectorcall(py_new, args, nargsf, kwnames); }
    shape = slot(PyTuple_GET_ITEM(src, n - 1), off_shape, s_shape);
  } else if (rule == rule_arg) {
    shape = PyTuple_CheckExact(arg) ? (Py_INCREF(arg), arg) : PySequence_Tuple(arg);
  } else {
    PyObject *ra[2] = {src, arg};
    shape = PyObject_Vectorcall(rule, ra, 2, NULL);
  }
  if (shape == NULL) goto fail;
  if ((u = uop_type->tp_alloc(uop_type, 0)) == NULL) { Py_DECREF(shape); goto fail; }
  Py_INCREF(op); set_slot(u, off_op, op);
  Py_INCREF(dtype); set_slot(u, off_dtype, dtype);
  Py_INCREF(src); set_slot(u, off_src, src);
  Py_INCREF(arg); set_slot(u, off_arg, arg);
  set_slot(u, off_shape, shape);
  Py_INCREF(Py_None); set_slot(u, off_realized, Py_None);
  Py_INCREF(Py_None); set_slot(u, off_tag, Py_None);
  Py_INCREF(key); set_slot(u, off_key, key);
  if ((ref = PyWeakref_NewRef(u, NULL)) == NULL) goto fail;
  PyObject *held = PyDict_SetDefault(table, key, ref);  /* borrowed */
  if (held == NULL) { Py_DECREF(ref); goto fail; }
  if (held != ref) {  /* another thread stored an equal node since the lookup, or a collected node's is left */
    PyObject *v = deref(held);
    if (v != NULL) {
      Py_INCREF(empty);
      Py_SETREF(*(PyObject **)((char *)u + off_key), empty);  /* (so that its __del__ leaves the table alone) */
      Py_DECREF(ref); Py_DECREF(key); Py_DECREF(u);
      return v;
    }
    if (PyDict_SetItem(table, key, ref) < 0) { Py_DECREF(ref); goto fail; }
  }
  Py_DECREF(ref);
  Py_DECREF(key);
  return u;
fail:
  Py_DECREF(key);
  Py_XDECREF(u);
  return NULL;
}

/* UOp.__del__: the table's entry goes, unless it is another (live) node's */
static PyObject *uop_del(PyObject *u, PyObject *unused) {
  if (table == NULL) Py_RETURN_NONE;
  PyObject *key = *(PyObject **)((char *)u + off_key);
  if (key == NULL) Py_RETURN_NONE;  /* made without __new__ */
  Py_INCREF(key);
  PyObject *ref = PyDict_GetItemWithError(table, key);
  if (ref != NULL) {
    PyObject *v = deref(ref);
    if (v == NULL || v == u) {
      if (PyDict_DelItem(table, key) < 0) PyErr_Clear();
    }
    Py_XDECREF(v);
  } else PyErr_Clear();  /* (an unhashable key never entered the table) */
  Py_DECREF(key);
  Py_RETURN_NONE;
}

static PyMethodDef del_def = {"__del__", (PyCFunction)uop_del, METH_NOARGS, "remove the node's entry from the table"};

/* node_methods(): (the __new__ function, the __del__ method descriptor) to set on the node class */
static PyObject *node_methods(PyObject *self, PyObject *unused) {
  static PyMethodDef new_def = {"__new__", (PyCFunction)(void (*)(void))uop_new, METH_FASTCALL | METH_KEYWORDS,
                                "the interned node with these fields"};
  if (uop_type == NULL) { PyErr_SetString(PyExc_RuntimeError, "walk_c: setup() was not called"); return NULL; }
  PyObject *f = PyCFunction_New(&new_def, NULL), *d = PyDescr_NewMethod(uop_type, &del_def);
  if (f == NULL || d == NULL) { Py_XDECREF(f); Py_XDECREF(d); return NULL; }
  PyObject *r = PyTuple_Pack(2, f, d);
  Py_DECREF(f); Py_DECREF(d);
  return r;
}

/* ---------------------------------------------------------------- a bound plan's run (realize.BoundPlan.run)
   run_table(fn, items, count, inputs, new): fill a table with the address of each buffer (inputs, then new; each
   buffer's `ptr`, which allocates it on first use) and call the launcher's tt_run_table(items, count, table) at
   address fn, without the GIL (kernels may run long; other threads go on). What the ctypes call did, with no
   argument conversion. */
typedef void (*run_table_fn)(const void *items, int count, void *const *table);
static PyObject *s_ptr = NULL;

static int fill(void **table, Py_ssize_t at, PyObject *bufs) {
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(bufs); i++) {
    PyObject *p = PyObject_GetAttr(PyList_GET_ITEM(bufs, i), s_ptr);
    if (p == NULL) return -1;
    table[at + i] = PyLong_AsVoidPtr(p);
    Py_DECREF(p);
    if (table[at + i] == NULL && PyErr_Occurred()) return -1;
  }
  return 0;
}

static PyObject *run_table(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 5 || !PyList_Check(args[3]) || !PyList_Check(args[4])) {
    PyErr_SetString(PyExc_TypeError, "run_table(fn, items, count, inputs: list, new: list)");
    return NULL;
  }
  if (s_ptr == NULL && (s_ptr = intern("ptr")) == NULL) return NULL;
  run_table_fn fn = (run_table_fn)PyLong_AsVoidPtr(args[0]);
  void *items = PyLong_AsVoidPtr(args[1]);
  long count = PyLong_AsLong(args[2]);
  if (PyErr_Occurred()) return NULL;
  if (fn == NULL || items == NULL || count < 0 || count > INT_MAX) {
    PyErr_SetString(PyExc_ValueError, "run_table: no function or items, or a bad count");
    return NULL;
  }
  Py_ssize_t n_in = PyList_GET_SIZE(args[3]), n = n_in + PyList_GET_SIZE(args[4]);
  void *local[64], **table = n + 1 <= 64 ? local : PyMem_Malloc((size_t)(n + 1) * sizeof(void *));
  if (table == NULL) return PyErr_NoMemory();
  PyObject *result = NULL;
  if (fill(table, 0, args[3]) == 0 && fill(table, n_in, args[4]) == 0) {
    table[n] = NULL;
    Py_BEGIN_ALLOW_THREADS
    fn(items, (int)count, table);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
  }
  if (table != local) PyMem_Free(table);
  return result;
}

/* ---------------------------------------------------------------- eager tensors (tensor/core.py, elementwise.py)
   Tensor._from and the common cases of a + b, a - b, a * b, a / b (and add, sub, mul, div without keywords): a float
   tensor that does not require grad with another of its dtype, shape and device, or with a Python float or int. They
   build the graph the Python methods build (the same nodes, interned) and hand every other call to those methods,
   also whenever DEBUG >= 2 or SOURCE_LINES asks for the user line of each tensor. */
static PyTypeObject *tensor_type = NULL;
static PyObject *device_type = NULL, *live = NULL, *debug_var = NULL, *lines_var = NULL, *const_fn = NULL;
static PyObject *float_dtypes = NULL, *py_from = NULL, *op_add = NULL, *op_mul = NULL, *op_neg = NULL, *op_recip = NULL;
static PyObject *s_refs = NULL, *s_limit = NULL, *s_value = NULL, *s_add = NULL;
static Py_ssize_t t_uop, t_device, t_rg, t_grad, t_nonleaf, t_meta;
enum { K_ADD, K_SUB, K_MUL, K_DIV, K_N };
static PyObject *fallback[2][K_N];  /* [0]: the dunder (__add__ ...), [1]: the named method (add ...) */

#define TSLOT(t, off) (*(PyObject **)((char *)(t) + (off)))

/* Does DEBUG >= 2 or SOURCE_LINES ask for each tensor's user line? (-1: an error) */
static int tagging(void) {
  PyObject *d = PyObject_GetAttr(debug_var, s_value);
  if (d == NULL) return -1;
  long level = PyLong_Check(d) ? PyLong_AsLong(d) : 2;
  Py_DECREF(d);
  if (level == -1 && PyErr_Occurred()) return -1;
  if (level >= 2) return 1;
  PyObject *l = PyObject_GetAttr(lines_var, s_value);
  if (l == NULL) return -1;
  int on = PyObject_IsTrue(l);
  Py_DECREF(l);
  return on;
}

/* A new tensor of uop on device (a TensorDevice), requires_grad rg, recorded among the live tensors (LIVE.add). */
static PyObject *new_tensor(PyObject *uop, PyObject *device, int rg) {
  PyObject *t = tensor_type->tp_alloc(tensor_type, 0);
  if (t == NULL) return NULL;
  PyObject *b = rg ? Py_True : Py_False;
  Py_INCREF(uop); TSLOT(t, t_uop) = uop;
  Py_INCREF(device); TSLOT(t, t_device) = device;
  Py_INCREF(b); TSLOT(t, t_rg) = b;
  Py_INCREF(b); TSLOT(t, t_nonleaf) = b;
  Py_INCREF(Py_None); TSLOT(t, t_grad) = Py_None;
  Py_INCREF(Py_None); TSLOT(t, t_meta) = Py_None;
  /* LIVE.add(t): a weak reference appended; past the limit the Python method sweeps the dead ones */
  PyObject *refs = PyObject_GetAttr(live, s_refs), *limit = refs ? PyObject_GetAttr(live, s_limit) : NULL;
  int ok = 0;
  if (limit != NULL && PyList_CheckExact(refs) && PyLong_Check(limit)
      && PyList_GET_SIZE(refs) + 1 <= PyLong_AsSsize_t(limit)) {
    PyObject *ref = PyWeakref_NewRef(t, NULL);
    ok = ref != NULL && PyList_Append(refs, ref) == 0 ? 1 : -1;
    Py_XDECREF(ref);
  }
  Py_XDECREF(refs); Py_XDECREF(limit);
  if (ok == 0 && !PyErr_Occurred()) {
    PyObject *r = PyObject_CallMethodOneArg(live, s_add, t);
    ok = r == NULL ? -1 : 1;
    Py_XDECREF(r);
  }
  if (ok < 0) { Py_DECREF(t); return NULL; }
  return t;
}

/* Tensor._from(uop, device, requires_grad=False) */
static PyObject *tensor_from(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
  Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  int tag = tensor_type == NULL ? 1 : tagging();
  if (tag < 0) return NULL;
  if (tag || kwnames != NULL || nargs < 2 || nargs > 3 || !Py_IS_TYPE(args[1], (PyTypeObject *)device_type)
      || (nargs == 3 && args[2] != Py_True && args[2] != Py_False))
    return py_from == NULL ? (PyErr_SetString(PyExc_RuntimeError, "walk_c: install_tensor() was not called"), NULL)
                           : PyObject_Vectorcall(py_from, args, nargsf, kwnames);
  return new_tensor(args[0], args[1], nargs == 3 && args[2] == Py_True);
}

static PyObject *node(PyObject *op, PyObject *dtype, PyObject *src) {  /* UOp(op, dtype, src); steals src */
  if (src == NULL) return NULL;
  PyObject *a[4] = {(PyObject *)uop_type, op, dtype, src};
  PyObject *u = uop_new(NULL, a, 4, NULL);
  Py_DECREF(src);
  return u;
}

/* The graph of self <kind> other for the fast cases, or NULL with no error set (the Python method's case). */
static PyObject *fast_binop(PyObject *self, PyObject *other, int kind) {
  if (!Py_IS_TYPE(self, tensor_type) || TSLOT(self, t_rg) != Py_False) return NULL;
  PyObject *a = TSLOT(self, t_uop);
  if (a == NULL || !Py_IS_TYPE(a, uop_type)) return NULL;
  PyObject *dt = TSLOT(a, off_dtype);
  int in = PySet_Contains(float_dtypes, dt);
  if (in <= 0) { if (in < 0) PyErr_Clear(); return NULL; }
  PyObject *b = NULL, *u = NULL;  /* b: the other operand's node (new reference) */
  if (Py_IS_TYPE(other, tensor_type)) {
    PyObject *ob = TSLOT(other, t_uop);
    if (TSLOT(other, t_rg) != Py_False || ob == NULL || !Py_IS_TYPE(ob, uop_type) || TSLOT(ob, off_dtype) != dt
        || TSLOT(other, t_device) != TSLOT(self, t_device)) return NULL;
    int same = PyObject_RichCompareBool(TSLOT(a, off_shape), TSLOT(ob, off_shape), Py_EQ);
    if (same <= 0) { if (same < 0) PyErr_Clear(); return NULL; }
    Py_INCREF(ob);
    b = ob;
    if (kind == K_SUB) b = node(op_neg, dt, PyTuple_Pack(1, ob)), Py_DECREF(ob);
  } else if (PyFloat_CheckExact(other) || (PyLong_CheckExact(other) && kind != K_SUB)) {
    PyObject *x = other;
    if (kind == K_SUB) x = PyFloat_FromDouble(-PyFloat_AS_DOUBLE(other));  /* a - x is a + (-x), exactly */
    else Py_INCREF(x);
    if (x == NULL) return NULL;
    PyObject *ca[3] = {x, dt, TSLOT(a, off_shape)};
    b = PyObject_Vectorcall(const_fn, ca, 3, NULL);
    Py_DECREF(x);
  } else return NULL;
  if (b == NULL) return NULL;
  if (kind == K_DIV) {
    PyObject *r = node(op_recip, dt, PyTuple_Pack(1, b));
    Py_DECREF(b);
    if ((b = r) == NULL) return NULL;
  }
  u = node(kind == K_MUL || kind == K_DIV ? op_mul : op_add, dt, PyTuple_Pack(2, a, b));
  Py_DECREF(b);
  if (u == NULL) return NULL;
  PyObject *t = new_tensor(u, TSLOT(self, t_device), 0);
  Py_DECREF(u);
  return t;
}

static PyObject *binop(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames, int kind, int named) {
  Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (nargs == 1 && kwnames == NULL && tensor_type != NULL) {
    int tag = tagging();
    if (tag < 0) return NULL;
    if (!tag) {
      PyObject *t = fast_binop(self, args[0], kind);
      if (t != NULL || PyErr_Occurred()) return t;
    }
  }
  PyObject *f = fallback[named][kind];
  if (f == NULL) { PyErr_SetString(PyExc_RuntimeError, "walk_c: install_tensor() was not called"); return NULL; }
  /* f(self, *args, **kw) */
  Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
  PyObject *local[8], **all = nargs + nkw + 1 <= 8 ? local
                                                    : PyMem_Malloc((size_t)(nargs + nkw + 1) * sizeof(PyObject *));
  if (all == NULL) return PyErr_NoMemory();
  all[0] = self;
  for (Py_ssize_t i = 0; i < nargs + nkw; i++) all[i + 1] = args[i];
  PyObject *r = PyObject_Vectorcall(f, all, (size_t)(nargs + 1), kwnames);
  if (all != local) PyMem_Free(all);
  return r;
}

#define BINOP(NAME, KIND, NAMED) \
  static PyObject *NAME(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) { \
    return binop(self, args, (size_t)nargs, kwnames, KIND, NAMED); }
BINOP(d_add, K_ADD, 0) BINOP(d_sub, K_SUB, 0) BINOP(d_mul, K_MUL, 0) BINOP(d_div, K_DIV, 0)
BINOP(m_add, K_ADD, 1) BINOP(m_sub, K_SUB, 1) BINOP(m_mul, K_MUL, 1) BINOP(m_div, K_DIV, 1)

#define MDEF(PYNAME, FN) {PYNAME, (PyCFunction)(void (*)(void))FN, METH_FASTCALL | METH_KEYWORDS, NULL}
static PyMethodDef tensor_defs[] = {
  MDEF("__add__", d_add), MDEF("__sub__", d_sub), MDEF("__mul__", d_mul), MDEF("__truediv__", d_div),
  MDEF("add", m_add), MDEF("sub", m_sub), MDEF("mul", m_mul), MDEF("div", m_div),
};
static const int tensor_kind[8] = {K_ADD, K_SUB, K_MUL, K_DIV, K_ADD, K_SUB, K_MUL, K_DIV};

static PyObject *tensor_docs[8];  /* the methods' docstrings (their UTF-8 text is tensor_defs' ml_doc) */

/* install_tensor(Tensor, TensorDevice, LIVE, DEBUG, SOURCE_LINES, const_uop, float_dtypes, (ADD, MUL, NEG, RECIPROCAL),
   python _from, {name: python method for each of __add__ __sub__ __mul__ __truediv__ add sub mul div},
   {name: docstring, opening with a text signature})
   -> (the C _from, {name: C method descriptor}) */
static PyObject *install_tensor(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 11 || !PyType_Check(args[0]) || !PyType_Check(args[1]) || !PyAnySet_Check(args[6])
      || !PyTuple_Check(args[7]) || PyTuple_GET_SIZE(args[7]) != 4 || !PyDict_Check(args[9]) || !PyDict_Check(args[10])
      || uop_type == NULL || table == NULL) {
    PyErr_SetString(PyExc_TypeError, "install_tensor: bad arguments (or setup / install_nodes not called)");
    return NULL;
  }
  PyObject *cls = args[0];
  if (member_offset(cls, "uop", &t_uop) || member_offset(cls, "device", &t_device) || member_offset(cls, "_rg", &t_rg)
      || member_offset(cls, "grad", &t_grad) || member_offset(cls, "_nonleaf", &t_nonleaf)
      || member_offset(cls, "_meta", &t_meta)) return NULL;
  if (s_refs == NULL && ((s_refs = intern("refs")) == NULL || (s_limit = intern("limit")) == NULL
                         || (s_value = intern("value")) == NULL || (s_add = intern("add")) == NULL)) return NULL;
  PyObject *fns[8] = {NULL};
  for (int i = 0; i < 8; i++) {
    fns[i] = PyDict_GetItemString(args[9], tensor_defs[i].ml_name);
    if (fns[i] == NULL) {
      PyErr_Format(PyExc_KeyError, "install_tensor: no Python method %s", tensor_defs[i].ml_name);
      return NULL;
    }
    PyObject *doc = PyDict_GetItemString(args[10], tensor_defs[i].ml_name);
    if (doc != NULL && PyUnicode_Check(doc)) {
      const char *text = PyUnicode_AsUTF8(doc);
      if (text == NULL) return NULL;
      Py_INCREF(doc);
      Py_XSETREF(tensor_docs[i], doc);  /* kept alive: ml_doc points into it */
      tensor_defs[i].ml_doc = text;
    }
  }
  PyObject *out = PyDict_New();
  if (out == NULL) return NULL;
  for (int i = 0; i < 8; i++) {
    PyObject *d = PyDescr_NewMethod((PyTypeObject *)cls, &tensor_defs[i]);
    if (d == NULL || PyDict_SetItemString(out, tensor_defs[i].ml_name, d) < 0) {
      Py_XDECREF(d);
      Py_DECREF(out);
      return NULL;
    }
    Py_DECREF(d);
  }
  static PyMethodDef from_def = {"_from", (PyCFunction)(void (*)(void))tensor_from, METH_FASTCALL | METH_KEYWORDS,
                                 "a tensor of uop on device"};
  PyObject *from = PyCFunction_New(&from_def, NULL);
  if (from == NULL) { Py_DECREF(out); return NULL; }
  for (int i = 0; i < 8; i++) { Py_INCREF(fns[i]); Py_XSETREF(fallback[i / 4][tensor_kind[i]], fns[i]); }
  PyObject **dst[] = {&device_type, &live, &debug_var, &lines_var, &const_fn, &float_dtypes, &py_from};
  PyObject *src[] = {args[1], args[2], args[3], args[4], args[5], args[6], args[8]};
  for (int i = 0; i < 7; i++) { Py_INCREF(src[i]); Py_XSETREF(*dst[i], src[i]); }
  PyObject **ops[] = {&op_add, &op_mul, &op_neg, &op_recip};
  for (int i = 0; i < 4; i++) { PyObject *o = PyTuple_GET_ITEM(args[7], i); Py_INCREF(o); Py_XSETREF(*ops[i], o); }
  Py_INCREF(cls); Py_XSETREF(tensor_type, (PyTypeObject *)cls);
  PyObject *r = PyTuple_Pack(2, from, out);
  Py_DECREF(from); Py_DECREF(out);
  return r;
}

static PyMethodDef methods[] = {
  {"setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL, "setup(node_class, buffer_op, assign_op)"},
  {"walk", (PyCFunction)(void (*)(void))walk, METH_FASTCALL, "walk(w, roots, part_ids, part_numbers)"},
  {"install_nodes", (PyCFunction)(void (*)(void))install_nodes, METH_FASTCALL,
   "install_nodes(node_class, table, shape_rules, last_tag, arg_tag, py_new)"},
  {"node_methods", node_methods, METH_NOARGS, "node_methods() -> (__new__, __del__)"},
  {"run_table", (PyCFunction)(void (*)(void))run_table, METH_FASTCALL, "run_table(fn, items, count, inputs, new)"},
  {"install_tensor", (PyCFunction)(void (*)(void))install_tensor, METH_FASTCALL, "install_tensor(...)"},
  {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "MODNAME", NULL, -1, methods};

PyMODINIT_FUNC PyInit_MODNAME(void) { return PyModule_Create(&module); }
"""

MODULE = "_tinytorch_walk"
STATUS: list[str] = []  # which walk runs and why, once known: ["C"] or ["Python: <reason>"]
_FN: list[Any] = []  # the walk function once built (None: it could not be)
_OFF_SAID: list[bool] = []  # (WALK_C=0 was said)
_LOCK = threading.Lock()
RUN_TABLE: list[Any] = []  # the C run_table(fn, items, count, inputs, new) once built (BoundPlan.run calls it)
NODE_METHODS: list[Any] = []  # the C UOp.__new__ and UOp.__del__ once installed (install_nodes)
TENSOR_C: list[Any] = []  # the C Tensor._from and {name: C method} once installed (install_tensor)


def headers() -> str:
    """The path of this interpreter's Python.h (which may be missing)."""
    return os.path.join(sysconfig.get_paths()["include"], "Python.h")


def _compile(cc: str, flags: list[str], source: str) -> tuple[bytes | None, str]:
    from ..runtime.cpu import CCompiler

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "walk.so")
        status, msg = CCompiler(cc).run_compiler(source, tuple(flags), out)
        if status != "ok":
            return None, f"{cc} failed: {msg.strip()[-400:]}"
        with open(out, "rb") as f:
            return f.read(), ""


def _load_module(lib: bytes) -> Any:
    """Load the extension's bytes (trusted: compiled here or an authenticated cache entry) from this process's
    private 0700 folder, unlinked after."""
    from ..runtime.cache import private_dir

    fd, path = tempfile.mkstemp(suffix=sysconfig.get_config_var("EXT_SUFFIX") or ".so", dir=private_dir())
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(lib)
        loader = importlib.machinery.ExtensionFileLoader(MODULE, path)
        spec = importlib.util.spec_from_file_location(MODULE, path, loader=loader)
        assert spec is not None
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        return mod
    finally:
        os.unlink(path)


def build() -> tuple[Any, str]:
    """Compile (or take from the compile cache) and load the C walk: (its walk function, "") or (None, why not)."""
    if sys.implementation.name != "cpython":
        return None, f"{sys.implementation.name} is not CPython"
    if not os.path.exists(headers()):
        return None, f"no {headers()} (install the Python development headers)"
    from ..runtime import cache
    from ..runtime.cpu import find_cc

    cc = find_cc()
    if cc is None:
        return None, "no C compiler (cc, gcc or clang; or set CC)"
    paths = sysconfig.get_paths()
    flags = ["-O2", "-fPIC", "-shared", "-std=gnu11", "-fno-strict-aliasing", f"-I{paths['include']}",
             f"-I{paths['platinclude']}"] + (["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else [])
    source = SOURCE.replace("MODNAME", MODULE)
    parts = [source, cc, *flags, sys.version, str(sysconfig.get_config_var("SOABI")), str(sys.abiflags)]
    lib = cache.load("walk", parts)
    if lib is None:
        lib, why = _compile(cc, flags, source)
        if lib is None:
            return None, why
        cache.store("walk", parts, lib)
    try:
        mod = _load_module(lib)
        from ..ops.uop import Ops, UOp

        mod.setup(UOp, Ops.BUFFER, Ops.ASSIGN)
        if NODES_C.value:
            install_nodes(mod)
            install_tensor(mod)
    except Exception as e:  # noqa: BLE001  (any load failure means the Python walk)
        return None, f"loading the built module failed: {e!r}"
    RUN_TABLE[:] = [mod.run_table]
    return mod.walk, ""


# the Tensor methods the C extension takes the common cases of (each hands the others to the Python method)
TENSOR_METHODS = ("__add__", "__sub__", "__mul__", "__truediv__", "add", "sub", "mul", "div")
PY_TENSOR: dict[str, Any] = {}  # name -> the Python method (and "_from"), once the C ones are installed


def install_tensor(mod: Any) -> None:
    """Build eager tensors with the module's C `Tensor._from`, and take the common cases of + - * / in C (a float
    tensor without grad with one of its dtype, shape and device, or with a Python number): the same graph as the
    Python methods, which stay the reference and take every other call."""
    from ..dtype import DType, dtypes
    from ..helpers import SOURCE_LINES
    from ..ops.uop import Ops
    from ..tensor import common
    from ..tensor.core import Tensor
    from ..tensor.device import device as TensorDevice

    py = PY_TENSOR or {name: Tensor.__dict__[name] for name in TENSOR_METHODS}
    py_from = PY_TENSOR.get("_from") or Tensor.__dict__["_from"].__func__
    floats = frozenset(v for v in vars(dtypes).values() if isinstance(v, DType) and v.kind == "f")
    c_from, methods = mod.install_tensor(Tensor, TensorDevice, common.LIVE, DEBUG, SOURCE_LINES, common._const_uop,
                                         floats, (Ops.ADD, Ops.MUL, Ops.NEG, Ops.RECIPROCAL), py_from, py,
                                         {name: _doc_of(name, fn) for name, fn in py.items()})
    PY_TENSOR.update(py, _from=py_from)
    TENSOR_C[:] = [c_from, methods]
    Tensor._from = staticmethod(c_from)  # type: ignore[method-assign,assignment]
    for name, m in methods.items():
        setattr(Tensor, name, m)


def _doc_of(name: str, fn: Any) -> str:
    """A C method's docstring for the Python method fn: CPython's text-signature line (which inspect.signature and
    help() read; annotations dropped, defaults kept) and fn's docstring."""
    try:
        sig = inspect.signature(fn)
        params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
        text = str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))
        head = f"{name}({'$' + text[1:] if params and params[0].name == 'self' else text[1:]}\n--\n\n"
    except (TypeError, ValueError):
        head = ""
    return head + (fn.__doc__ or "")


def install_nodes(mod: Any) -> None:
    """Build graph nodes with the module's C `UOp.__new__` and `UOp.__del__` from now on (the Python methods of
    ops/uop.py stay the reference and take the calls the C path does not; both use the one intern table)."""
    from ..ops import uop as U

    mod.install_nodes(U.UOp, U._cache, U._SHAPE_RULES, U._LAST_SOURCE, U._ARG, U.py_new)
    new, delete = mod.node_methods()
    NODE_METHODS[:] = [new, delete]
    U.UOp.__new__ = staticmethod(new)  # type: ignore[method-assign,assignment]
    U.UOp.__del__ = delete  # type: ignore[method-assign]


def _say(fn: Any, why: str) -> None:
    STATUS[:] = ["C" if fn is not None else f"Python: {why}"]
    if DEBUG >= 1:
        where = "C (engine/walk_c.py)" if fn is not None else f"Python ({why})"
        print(f"walk: the plan cache's structural walk runs in {where}")


def walker() -> Any:
    """The C walk function `walk(w, roots, part_ids, part_numbers)`, or None (WALK_C=0, or it could not be built)."""
    if not WALK_C.value:
        if not _OFF_SAID:
            _OFF_SAID.append(True)
            _say(None, "WALK_C=0")
        return None
    if not _FN:
        with _LOCK:
            if not _FN:
                fn, why = build()
                _say(fn, why)
                _FN.append(fn)
    return _FN[0]

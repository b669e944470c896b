/*
 * Interface: what every public header opens and closes with, so that the
 * headers are the library's whole exported surface and compile as C++.
 *
 *   #include "tern/decls.h"
 *   TERN_BEGIN_DECLS
 *   ... declarations ...
 *   TERN_END_DECLS
 *
 * TERN_BEGIN_DECLS opens extern "C" under C++ and gives the declarations
 * up to TERN_END_DECLS default visibility: the library is built with
 * -fvisibility=hidden, so a function is exported exactly when a public
 * header declares it (tests/embed/abi-core.txt lists them). TERN_API
 * marks a single declaration outside such a block the same way.
 */
#ifndef TERN_DECLS_H
#define TERN_DECLS_H

#if defined(__GNUC__) || defined(__clang__)
#define TERN_API __attribute__((visibility("default")))
#define TERN_VISIBILITY_PUSH_ _Pragma("GCC visibility push(default)")
#define TERN_VISIBILITY_POP_ _Pragma("GCC visibility pop")
#else
#define TERN_API
#define TERN_VISIBILITY_PUSH_
#define TERN_VISIBILITY_POP_
#endif

#ifdef __cplusplus
#define TERN_BEGIN_DECLS extern "C" { TERN_VISIBILITY_PUSH_
#define TERN_END_DECLS TERN_VISIBILITY_POP_ }
#define TERN_ALIGNAS(n) alignas(n)
#else
#define TERN_BEGIN_DECLS TERN_VISIBILITY_PUSH_
#define TERN_END_DECLS TERN_VISIBILITY_POP_
#define TERN_ALIGNAS(n) _Alignas(n)
#endif

#endif

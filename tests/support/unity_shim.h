/* Unity's assertion API (TEST_ASSERT_EQUAL_INT, TEST_ASSERT_FLOAT_WITHIN, ...) for tests of the
 * C99 device core. On the host the macros map onto GoogleTest and every test function becomes a
 * GoogleTest case (so CTest runs them); compiled with -DES_UNITY_NATIVE against Unity on a target
 * board, the same file builds a Unity runner instead.
 *
 * A test file is written in the common subset of C99 and C++ and ends with its test list:
 *
 *   #include "support/unity_shim.h"
 *   void setUp(void) {}
 *   void tearDown(void) {}
 *   static void test_something(void) { TEST_ASSERT_EQUAL_INT(3, 1 + 2); }
 *   #define ES_UNITY_SUITE DeviceRng
 *   #define DEVICE_RNG_TESTS(X) X(test_something)
 *   ES_UNITY_TESTS(DEVICE_RNG_TESTS)
 *
 * One test file per executable (setUp/tearDown are per file, as in Unity). Like Unity, a failed
 * assertion ends the test function (GoogleTest's ASSERT_* return), and tearDown still runs. */
#ifndef ES_TESTS_SUPPORT_UNITY_SHIM_H_
#define ES_TESTS_SUPPORT_UNITY_SHIM_H_

#ifdef ES_UNITY_NATIVE

#include "unity.h"

#define ES_UNITY_RUN_(fn) RUN_TEST(fn);
#define ES_UNITY_TESTS(LIST) \
  int main(void) {           \
    UNITY_BEGIN();           \
    LIST(ES_UNITY_RUN_)      \
    return UNITY_END();      \
  }

#else /* GoogleTest */

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

void setUp(void);
void tearDown(void);

#define ES_UNITY_I_(v) static_cast<long long>(v)
#define ES_UNITY_U_(v) static_cast<unsigned long long>(v)
#define ES_UNITY_D_(v) static_cast<double>(v)

/* Booleans and pointers */
#define TEST_ASSERT(c) ASSERT_TRUE(c)
#define TEST_ASSERT_TRUE(c) ASSERT_TRUE(c)
#define TEST_ASSERT_FALSE(c) ASSERT_FALSE(c)
#define TEST_ASSERT_UNLESS(c) ASSERT_FALSE(c)
#define TEST_ASSERT_NULL(p) ASSERT_EQ(static_cast<const void*>(p), nullptr)
#define TEST_ASSERT_NOT_NULL(p) ASSERT_NE(static_cast<const void*>(p), nullptr)

/* Signed and unsigned integers (Unity: expected first, actual second) */
#define TEST_ASSERT_EQUAL(e, a) ASSERT_EQ(ES_UNITY_I_(e), ES_UNITY_I_(a))
#define TEST_ASSERT_EQUAL_INT(e, a) ASSERT_EQ(ES_UNITY_I_(e), ES_UNITY_I_(a))
#define TEST_ASSERT_EQUAL_INT8(e, a) ASSERT_EQ(ES_UNITY_I_(e), ES_UNITY_I_(a))
#define TEST_ASSERT_EQUAL_INT16(e, a) ASSERT_EQ(ES_UNITY_I_(e), ES_UNITY_I_(a))
#define TEST_ASSERT_EQUAL_INT32(e, a) ASSERT_EQ(ES_UNITY_I_(e), ES_UNITY_I_(a))
#define TEST_ASSERT_EQUAL_INT64(e, a) ASSERT_EQ(ES_UNITY_I_(e), ES_UNITY_I_(a))
#define TEST_ASSERT_EQUAL_UINT(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_EQUAL_UINT8(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_EQUAL_UINT16(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_EQUAL_UINT32(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_EQUAL_UINT64(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_EQUAL_size_t(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_EQUAL_HEX(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_EQUAL_HEX8(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_EQUAL_HEX16(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_EQUAL_HEX32(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_EQUAL_HEX64(e, a) ASSERT_EQ(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_NOT_EQUAL(e, a) ASSERT_NE(ES_UNITY_I_(e), ES_UNITY_I_(a))
#define TEST_ASSERT_NOT_EQUAL_INT(e, a) ASSERT_NE(ES_UNITY_I_(e), ES_UNITY_I_(a))
#define TEST_ASSERT_NOT_EQUAL_UINT64(e, a) ASSERT_NE(ES_UNITY_U_(e), ES_UNITY_U_(a))
#define TEST_ASSERT_INT_WITHIN(d, e, a) \
  ASSERT_LE(std::llabs(ES_UNITY_I_(a) - ES_UNITY_I_(e)), ES_UNITY_I_(d))
#define TEST_ASSERT_UINT_WITHIN(d, e, a) TEST_ASSERT_INT_WITHIN(d, e, a)

/* Thresholds (Unity: threshold first; the assertion is on the actual value) */
#define TEST_ASSERT_GREATER_THAN(t, a) ASSERT_GT(ES_UNITY_I_(a), ES_UNITY_I_(t))
#define TEST_ASSERT_GREATER_THAN_INT(t, a) ASSERT_GT(ES_UNITY_I_(a), ES_UNITY_I_(t))
#define TEST_ASSERT_GREATER_THAN_UINT(t, a) ASSERT_GT(ES_UNITY_U_(a), ES_UNITY_U_(t))
#define TEST_ASSERT_LESS_THAN(t, a) ASSERT_LT(ES_UNITY_I_(a), ES_UNITY_I_(t))
#define TEST_ASSERT_LESS_THAN_INT(t, a) ASSERT_LT(ES_UNITY_I_(a), ES_UNITY_I_(t))
#define TEST_ASSERT_LESS_THAN_UINT(t, a) ASSERT_LT(ES_UNITY_U_(a), ES_UNITY_U_(t))
#define TEST_ASSERT_GREATER_OR_EQUAL(t, a) ASSERT_GE(ES_UNITY_I_(a), ES_UNITY_I_(t))
#define TEST_ASSERT_GREATER_OR_EQUAL_INT(t, a) ASSERT_GE(ES_UNITY_I_(a), ES_UNITY_I_(t))
#define TEST_ASSERT_GREATER_OR_EQUAL_UINT(t, a) ASSERT_GE(ES_UNITY_U_(a), ES_UNITY_U_(t))
#define TEST_ASSERT_LESS_OR_EQUAL(t, a) ASSERT_LE(ES_UNITY_I_(a), ES_UNITY_I_(t))
#define TEST_ASSERT_LESS_OR_EQUAL_INT(t, a) ASSERT_LE(ES_UNITY_I_(a), ES_UNITY_I_(t))
#define TEST_ASSERT_LESS_OR_EQUAL_UINT(t, a) ASSERT_LE(ES_UNITY_U_(a), ES_UNITY_U_(t))

/* Floating point */
#define TEST_ASSERT_FLOAT_WITHIN(d, e, a) \
  ASSERT_NEAR(ES_UNITY_D_(e), ES_UNITY_D_(a), ES_UNITY_D_(d))
#define TEST_ASSERT_DOUBLE_WITHIN(d, e, a) \
  ASSERT_NEAR(ES_UNITY_D_(e), ES_UNITY_D_(a), ES_UNITY_D_(d))
#define TEST_ASSERT_EQUAL_FLOAT(e, a) ASSERT_FLOAT_EQ(static_cast<float>(e), static_cast<float>(a))
#define TEST_ASSERT_EQUAL_DOUBLE(e, a) ASSERT_DOUBLE_EQ(ES_UNITY_D_(e), ES_UNITY_D_(a))
#define TEST_ASSERT_GREATER_THAN_DOUBLE(t, a) ASSERT_GT(ES_UNITY_D_(a), ES_UNITY_D_(t))
#define TEST_ASSERT_LESS_THAN_DOUBLE(t, a) ASSERT_LT(ES_UNITY_D_(a), ES_UNITY_D_(t))
#define TEST_ASSERT_GREATER_OR_EQUAL_DOUBLE(t, a) ASSERT_GE(ES_UNITY_D_(a), ES_UNITY_D_(t))
#define TEST_ASSERT_LESS_OR_EQUAL_DOUBLE(t, a) ASSERT_LE(ES_UNITY_D_(a), ES_UNITY_D_(t))
#define TEST_ASSERT_DOUBLE_IS_NAN(a) ASSERT_TRUE(std::isnan(ES_UNITY_D_(a)))
#define TEST_ASSERT_DOUBLE_IS_NOT_NAN(a) ASSERT_FALSE(std::isnan(ES_UNITY_D_(a)))

/* Strings and memory */
#define TEST_ASSERT_EQUAL_STRING(e, a) ASSERT_STREQ(e, a)
#define TEST_ASSERT_EQUAL_STRING_LEN(e, a, len) \
  ASSERT_EQ(0, std::strncmp(e, a, len)) << "expected \"" << (e) << "\", got \"" << (a) << '"'
#define TEST_ASSERT_EQUAL_MEMORY(e, a, len) \
  ASSERT_EQ(0, std::memcmp(e, a, len)) << (len) << " bytes differ"

/* The same with a message (the message is streamed into GoogleTest's failure text) */
#define TEST_ASSERT_MESSAGE(c, m) TEST_ASSERT_TRUE(c) << (m)
#define TEST_ASSERT_TRUE_MESSAGE(c, m) TEST_ASSERT_TRUE(c) << (m)
#define TEST_ASSERT_FALSE_MESSAGE(c, m) TEST_ASSERT_FALSE(c) << (m)
#define TEST_ASSERT_EQUAL_INT_MESSAGE(e, a, m) TEST_ASSERT_EQUAL_INT(e, a) << (m)
#define TEST_ASSERT_EQUAL_UINT_MESSAGE(e, a, m) TEST_ASSERT_EQUAL_UINT(e, a) << (m)
#define TEST_ASSERT_EQUAL_UINT64_MESSAGE(e, a, m) TEST_ASSERT_EQUAL_UINT64(e, a) << (m)
#define TEST_ASSERT_EQUAL_INT64_MESSAGE(e, a, m) TEST_ASSERT_EQUAL_INT64(e, a) << (m)
#define TEST_ASSERT_FLOAT_WITHIN_MESSAGE(d, e, a, m) TEST_ASSERT_FLOAT_WITHIN(d, e, a) << (m)
#define TEST_ASSERT_DOUBLE_WITHIN_MESSAGE(d, e, a, m) TEST_ASSERT_DOUBLE_WITHIN(d, e, a) << (m)
#define TEST_ASSERT_EQUAL_DOUBLE_MESSAGE(e, a, m) TEST_ASSERT_EQUAL_DOUBLE(e, a) << (m)
#define TEST_ASSERT_EQUAL_STRING_MESSAGE(e, a, m) TEST_ASSERT_EQUAL_STRING(e, a) << (m)
#define TEST_ASSERT_EQUAL_MEMORY_MESSAGE(e, a, len, m) TEST_ASSERT_EQUAL_MEMORY(e, a, len) << (m)

/* Control */
#define TEST_FAIL() FAIL()
#define TEST_FAIL_MESSAGE(m) FAIL() << (m)
#define TEST_PASS() return
#define TEST_MESSAGE(m) std::printf("%s\n", static_cast<const char*>(m))

/* Each function of the list becomes TEST(ES_UNITY_SUITE, fn), run between setUp and tearDown. */
#define ES_UNITY_GTEST_CASE_(fn) \
  TEST(ES_UNITY_SUITE, fn) {     \
    setUp();                     \
    fn();                        \
    tearDown();                  \
  }
#define ES_UNITY_TESTS(LIST) LIST(ES_UNITY_GTEST_CASE_)

#endif /* ES_UNITY_NATIVE */

#endif /* ES_TESTS_SUPPORT_UNITY_SHIM_H_ */

/* A minimal stand-in for ThrowTheSwitch Unity (the subset of its API our device tests use), so
 * CTest also builds and runs the device tests as plain C99 with -DES_UNITY_NATIVE: the proof that
 * they would build against the real Unity on a target. Not a replacement for Unity. */
#ifndef ES_UNITY_MIN_H_
#define ES_UNITY_MIN_H_

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void UnityMinRun(void (*test)(void), const char* name, int line);
void UnityMinFail(const char* file, int line, const char* what);
int UnityMinBegin(void);
int UnityMinEnd(void);
extern int unity_min_current_failed;

#define UNITY_BEGIN() UnityMinBegin()
#define UNITY_END() UnityMinEnd()
#define RUN_TEST(f) UnityMinRun(f, #f, __LINE__)

#define UNITY_MIN_CHECK(c, what)              \
  do {                                        \
    if (!(c)) {                               \
      UnityMinFail(__FILE__, __LINE__, what); \
      return;                                 \
    }                                         \
  } while (0)

#define TEST_ASSERT(c) UNITY_MIN_CHECK(c, #c)
#define TEST_ASSERT_TRUE(c) UNITY_MIN_CHECK(c, #c)
#define TEST_ASSERT_FALSE(c) UNITY_MIN_CHECK(!(c), "!(" #c ")")
#define TEST_ASSERT_EQUAL_INT(e, a) UNITY_MIN_CHECK((long long)(e) == (long long)(a), #e " == " #a)
#define TEST_ASSERT_EQUAL_INT64(e, a) TEST_ASSERT_EQUAL_INT(e, a)
#define TEST_ASSERT_EQUAL_UINT(e, a) \
  UNITY_MIN_CHECK((unsigned long long)(e) == (unsigned long long)(a), #e " == " #a)
#define TEST_ASSERT_EQUAL_UINT64(e, a) TEST_ASSERT_EQUAL_UINT(e, a)
#define TEST_ASSERT_EQUAL_size_t(e, a) TEST_ASSERT_EQUAL_UINT(e, a)
#define TEST_ASSERT_NOT_EQUAL_UINT64(e, a) \
  UNITY_MIN_CHECK((unsigned long long)(e) != (unsigned long long)(a), #e " != " #a)
#define TEST_ASSERT_INT_WITHIN(d, e, a)                                     \
  UNITY_MIN_CHECK(llabs((long long)(a) - (long long)(e)) <= (long long)(d), \
                  #a " within " #d " of " #e)
#define TEST_ASSERT_GREATER_THAN(t, a) UNITY_MIN_CHECK((long long)(a) > (long long)(t), #a " > " #t)
#define TEST_ASSERT_GREATER_THAN_INT(t, a) TEST_ASSERT_GREATER_THAN(t, a)
#define TEST_ASSERT_GREATER_THAN_UINT(t, a) \
  UNITY_MIN_CHECK((unsigned long long)(a) > (unsigned long long)(t), #a " > " #t)
#define TEST_ASSERT_LESS_THAN_UINT(t, a) \
  UNITY_MIN_CHECK((unsigned long long)(a) < (unsigned long long)(t), #a " < " #t)
#define TEST_ASSERT_LESS_OR_EQUAL_UINT(t, a) \
  UNITY_MIN_CHECK((unsigned long long)(a) <= (unsigned long long)(t), #a " <= " #t)
#define TEST_ASSERT_DOUBLE_WITHIN(d, e, a) \
  UNITY_MIN_CHECK(fabs((double)(a) - (double)(e)) <= (double)(d), #a " within " #d " of " #e)
#define TEST_ASSERT_EQUAL_DOUBLE(e, a) UNITY_MIN_CHECK((double)(e) == (double)(a), #e " == " #a)
#define TEST_ASSERT_GREATER_THAN_DOUBLE(t, a) \
  UNITY_MIN_CHECK((double)(a) > (double)(t), #a " > " #t)
#define TEST_ASSERT_LESS_THAN_DOUBLE(t, a) UNITY_MIN_CHECK((double)(a) < (double)(t), #a " < " #t)
#define TEST_ASSERT_GREATER_OR_EQUAL_DOUBLE(t, a) \
  UNITY_MIN_CHECK((double)(a) >= (double)(t), #a " >= " #t)
#define TEST_ASSERT_LESS_OR_EQUAL_DOUBLE(t, a) \
  UNITY_MIN_CHECK((double)(a) <= (double)(t), #a " <= " #t)
#define TEST_ASSERT_EQUAL_STRING(e, a) UNITY_MIN_CHECK(strcmp((e), (a)) == 0, #e " == " #a)
#define TEST_ASSERT_EQUAL_MEMORY(e, a, n) UNITY_MIN_CHECK(memcmp((e), (a), (n)) == 0, #e " == " #a)

#endif /* ES_UNITY_MIN_H_ */

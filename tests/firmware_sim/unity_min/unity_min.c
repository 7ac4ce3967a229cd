/* The runner half of the minimal Unity stand-in (see unity.h). */
#include "unity.h"

void setUp(void);
void tearDown(void);

int unity_min_current_failed;
static int tests_run;
static int tests_failed;

int UnityMinBegin(void) {
  tests_run = tests_failed = 0;
  return 0;
}

void UnityMinFail(const char* file, int line, const char* what) {
  printf("%s:%d: FAIL: %s\n", file, line, what);
  unity_min_current_failed = 1;
}

void UnityMinRun(void (*test)(void), const char* name, int line) {
  unity_min_current_failed = 0;
  setUp();
  test();
  tearDown();
  ++tests_run;
  if (unity_min_current_failed) ++tests_failed;
  printf("%s:%d:%s:%s\n", "test", line, name, unity_min_current_failed ? "FAIL" : "PASS");
}

int UnityMinEnd(void) {
  printf("-----------------------\n%d Tests %d Failures 0 Ignored\n%s\n", tests_run, tests_failed,
         tests_failed ? "FAIL" : "OK");
  return tests_failed;
}

/* assert_test: assert() in the default build. A true assertion passes; a false one prints its
 * expression, file and line and ends the thread with status 134, so nothing after it runs. */
#include <assert.h>
#include <stdio.h>

int main(void) {
    int two = 2;
    assert(two + 2 == 4);
    printf("assert_test: a true assertion passed; line %d asserts two + 2 == 5\n", __LINE__ + 1);
    assert(two + 2 == 5);
    printf("assert_test: FAIL the false assertion did not stop the program\n");
    return 0;
}

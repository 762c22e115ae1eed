/* hello_c: the smallest useful C service: prints through libanvil-c and exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <anvil/kernel.h>

int main(void) {
    uint32_t cpu = 0;
    anvil_tcb_current_cpu(&cpu);
    char *greeting = strdup("hello from C");
    printf("hello_c: %s on cpu %u; %d squared is %d\n", greeting, cpu, 12, 12 * 12);
    free(greeting);
    return 0;
}

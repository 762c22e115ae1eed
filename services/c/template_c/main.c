/* template_c: a starting point for a C service. It prints through libanvil-c, allocates from
 * its heap, and returns (which ends its thread). */
#include <stdio.h>
#include <stdlib.h>
#include <anvil/kernel.h>

int main(void) {
    int *numbers = malloc(4 * sizeof *numbers);
    if (!numbers) return 1;
    for (int i = 0; i < 4; i++) numbers[i] = i * 10;
    printf("template_c: up, numbers %d %d %d %d\n", numbers[0], numbers[1], numbers[2], numbers[3]);
    free(numbers);
    return 0;
}

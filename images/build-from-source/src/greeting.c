#include <stdio.h>

#include "greeting.h"

void print_greeting(const char *name) {
        printf("Hello, %s, from a program built by a kiln build script.\n", name);
}

#include "greeting.h"

int main(int argc, char *argv[]) {
        print_greeting(argc > 1 ? argv[1] : "world");
        return 0;
}

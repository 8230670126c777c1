#ifndef GREETING_H
#define GREETING_H

/* The line hello-kiln prints, addressed to `name`. */
void print_greeting(const char *name);

#endif

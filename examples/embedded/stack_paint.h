/* examples/embedded/stack_paint.h: the word the start-up code paints the stack with (startup.S)
 * and the exit code looks for (runtime.cpp). Shared by assembly and C++, so only a #define. */
#ifndef KATACHI_EMBEDDED_STACK_PAINT_H
#define KATACHI_EMBEDDED_STACK_PAINT_H
#define KATACHI_STACK_PAINT 0xC5AC5AC5
#endif

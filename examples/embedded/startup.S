/* examples/embedded/startup.S: the vector table and reset code of katachi's Cortex-M7 image.
 *
 * Reset_Handler is assembly so that no floating-point instruction can run before the FPU is
 * enabled. The C++ code of the image is compiled with -mfpu=fpv5-d16 -mfloat-abi=hard, and the
 * compiler may use the FP registers anywhere, not only for float arithmetic (a word copy through
 * d-registers, a spill to s-registers); on an M-profile core every FP instruction faults (UsageFault,
 * NOCP) until CPACR grants access to coprocessors 10 and 11. Here nothing runs before that write
 * but these instructions, and the C++ code starts only after the DSB and ISB.
 *
 * Order: FPU on, .data copied from its load address, .bss zeroed, the stack below the current SP
 * painted (for the high-water mark), then katachi_init (static constructors), main, and
 * katachi_exit with main's result. The fault vectors pass the stacked exception frame and a fault
 * number to katachi_fault, which reports and exits with failure.
 */
#include "stack_paint.h"

    .syntax unified
    .cpu cortex-m7
    .thumb

/* The Cortex-M7's 16 system vectors, then 32 interrupt vectors, none of them enabled by the image. */
    .section .vectors, "a", %progbits
    .align 2
    .global katachi_vectors
katachi_vectors:
    .word __stack_top           /* 0: initial main stack pointer */
    .word Reset_Handler         /* 1: reset */
    .word NMI_Handler           /* 2 */
    .word HardFault_Handler     /* 3 */
    .word MemManage_Handler     /* 4 */
    .word BusFault_Handler      /* 5 */
    .word UsageFault_Handler    /* 6 */
    .word 0, 0, 0, 0            /* 7-10: reserved */
    .word Unexpected_Handler    /* 11: SVCall */
    .word Unexpected_Handler    /* 12: DebugMonitor */
    .word 0                     /* 13: reserved */
    .word Unexpected_Handler    /* 14: PendSV */
    .word Unexpected_Handler    /* 15: SysTick */
    .rept 32
    .word Unexpected_Handler    /* external interrupts */
    .endr
    .size katachi_vectors, . - katachi_vectors

    .section .text.Reset_Handler, "ax", %progbits
    .align 2
    .global Reset_Handler
    .type Reset_Handler, %function
    .thumb_func
Reset_Handler:
    /* CPACR (0xE000ED88) bits 20-23: full access to CP10 and CP11, the FPU. */
    ldr r0, =0xE000ED88
    ldr r1, [r0]
    orr r1, r1, #(0xF << 20)
    str r1, [r0]
    dsb                         /* the write completes */
    isb                         /* and the instructions after it are fetched with the FPU on */

    /* .data: word by word from its load address in code memory (the linker aligns all three to 4). */
    ldr r0, =__data_load
    ldr r1, =__data_start
    ldr r2, =__data_end
1:  cmp r1, r2
    bhs 2f
    ldr r3, [r0], #4
    str r3, [r1], #4
    b 1b

    /* .bss: zeroed. */
2:  ldr r1, =__bss_start
    ldr r2, =__bss_end
    movs r3, #0
3:  cmp r1, r2
    bhs 4f
    str r3, [r1], #4
    b 3b

    /* The stack, from its lowest word up to the SP (nothing is on it yet), gets the pattern that
     * katachi_exit looks for to find the deepest word ever written. */
4:  ldr r1, =__stack_bottom
    mov r2, sp
    ldr r3, =KATACHI_STACK_PAINT
5:  cmp r1, r2
    bhs 6f
    str r3, [r1], #4
    b 5b

6:  bl katachi_init
    bl main
    b katachi_exit              /* with main's result in r0; does not return */
    .ltorg
    .size Reset_Handler, . - Reset_Handler

/* A fault vector: r0 = the exception frame (on the main or the process stack, as EXC_RETURN bit 2
 * says), r1 = the fault's number, then katachi_fault, which does not return. */
    .macro fault_vector name, number
    .section .text.\name, "ax", %progbits
    .align 2
    .global \name
    .type \name, %function
    .thumb_func
\name:
    tst lr, #4
    ite eq
    mrseq r0, msp
    mrsne r0, psp
    movs r1, #\number
    b katachi_fault
    .size \name, . - \name
    .endm

    fault_vector NMI_Handler, 2
    fault_vector HardFault_Handler, 3
    fault_vector MemManage_Handler, 4
    fault_vector BusFault_Handler, 5
    fault_vector UsageFault_Handler, 6
    fault_vector Unexpected_Handler, 0

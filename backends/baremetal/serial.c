/*
 * Interface: COM1 as Tern's console (see metal.h). A 16550 at I/O port
 * 0x3f8, 115200 baud 8N1, FIFOs on, no interrupts: writes poll the
 * transmit-holding-empty bit once per 16 bytes (the FIFO). "\n" goes
 * out as "\r\n" so a terminal shows lines; tests strip the CR.
 */
#include <stdarg.h>

#include "metal.h"
#include "tern/fmt.h"
#include "x86.h"

#define COM1 0x3f8
#define UART_THR 0   /* transmit holding (DLAB=0) */
#define UART_DLL 0   /* divisor low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20
#define SPIN_LIMIT 100000u   /* a missing UART must not hang the machine */

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00);  /* no interrupts */
    outb(COM1 + UART_LCR, 0x80);  /* DLAB on */
    outb(COM1 + UART_DLL, 0x01);  /* 115200 = 115200 / 1 */
    outb(COM1 + UART_DLM, 0x00);
    outb(COM1 + UART_LCR, 0x03);  /* 8N1, DLAB off */
    outb(COM1 + UART_FCR, 0xc7);  /* FIFO on, cleared, 14-byte threshold */
    outb(COM1 + UART_MCR, 0x03);  /* DTR, RTS */
}

/* Waits until the transmitter is empty: then the whole FIFO is free. */
static void wait_thre(void)
{
    for (unsigned spins = 0; spins < SPIN_LIMIT; spins++)
        if (inb(COM1 + UART_LSR) & LSR_THRE)
            break;
}

/* THRE set means the 16-byte FIFO is empty, so up to FIFO_BYTES go out
 * per status read (under TCG each port access is a trip into QEMU; one
 * status read per byte doubled the cost of every log line). */
#define FIFO_BYTES 16u

void serial_write(const char *buf, size_t len)
{
    unsigned room = 0;
    for (size_t i = 0; i < len; i++) {
        bool cr = buf[i] == '\n';
        for (unsigned k = cr ? 0u : 1u; k < 2u; k++) {
            if (room == 0) {
                wait_thre();
                room = FIFO_BYTES;
            }
            outb(COM1 + UART_THR, (uint8_t)(k == 0 ? '\r' : buf[i]));
            room--;
        }
    }
}

void serial_printf(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = tern_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    serial_write(line, n < sizeof(line) ? n : sizeof(line) - 1);
}

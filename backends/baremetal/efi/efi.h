/*
 * Interface: the handful of UEFI 2.x definitions the loader uses, written
 * from the UEFI specification (tables 4-1, 4-4 and 7-1). Only the members
 * the loader calls are typed; the others are placeholders that keep the
 * offsets right. Compiled for x86_64-unknown-windows only (UEFI's own
 * ABI: LLP64, Microsoft calling convention), never for the kernel.
 */
#ifndef TERN_EFI_H
#define TERN_EFI_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t efi_status;
typedef void *efi_handle;
typedef uint16_t efi_char16;

#define EFI_SUCCESS              0ull
#define EFI_ERROR_BIT            0x8000000000000000ull
#define EFI_LOAD_ERROR           (EFI_ERROR_BIT | 1)
#define EFI_INVALID_PARAMETER    (EFI_ERROR_BIT | 2)
#define EFI_BUFFER_TOO_SMALL     (EFI_ERROR_BIT | 5)

#define EFI_ALLOCATE_ANY_PAGES   0
#define EFI_LOADER_CODE          1
#define EFI_LOADER_DATA          2

struct efi_guid {
    uint32_t d1;
    uint16_t d2, d3;
    uint8_t d4[8];
};

struct efi_table_header {
    uint64_t signature;
    uint32_t revision, header_size, crc32, reserved;
};

struct efi_simple_text_output {
    void *reset;
    efi_status (*output_string)(struct efi_simple_text_output *self, const efi_char16 *s);
};

struct efi_boot_services {
    struct efi_table_header hdr;
    void *raise_tpl, *restore_tpl;
    efi_status (*allocate_pages)(int type, int mem_type, uint64_t pages, uint64_t *addr);
    void *free_pages;
    efi_status (*get_memory_map)(uint64_t *size, void *map, uint64_t *key,
                                 uint64_t *desc_size, uint32_t *desc_version);
    efi_status (*allocate_pool)(int mem_type, uint64_t size, void **out);
    void *free_pool;
    void *create_event, *set_timer, *wait_for_event, *signal_event, *close_event, *check_event;
    void *install_protocol, *reinstall_protocol, *uninstall_protocol, *handle_protocol;
    void *reserved, *register_protocol_notify, *locate_handle, *locate_device_path;
    void *install_configuration_table;
    void *load_image, *start_image, *exit, *unload_image;
    efi_status (*exit_boot_services)(efi_handle image, uint64_t map_key);
    void *get_next_monotonic_count, *stall;
    efi_status (*set_watchdog_timer)(uint64_t timeout, uint64_t code, uint64_t size,
                                     const efi_char16 *data);
};

struct efi_configuration_table {
    struct efi_guid guid;
    void *table;
};

struct efi_system_table {
    struct efi_table_header hdr;
    efi_char16 *firmware_vendor;
    uint32_t firmware_revision;
    efi_handle console_in_handle;
    void *con_in;
    efi_handle console_out_handle;
    struct efi_simple_text_output *con_out;
    efi_handle std_err_handle;
    void *std_err;
    void *runtime_services;
    struct efi_boot_services *boot_services;
    uint64_t number_of_table_entries;
    struct efi_configuration_table *configuration_table;
};

#define EFI_ACPI_20_TABLE_GUID \
    { 0x8868e871, 0xe4f1, 0x11d3, { 0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81 } }
#define EFI_ACPI_10_TABLE_GUID \
    { 0xeb9d2d30, 0x2d88, 0x11d3, { 0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d } }

#endif

/*
 * no_entry.c - test plugin: a shared object that exports a function, but
 * not qf_plugin_entry.
 */
#include "qf/plugin.h"

QF_EXPORT int qf_test_not_an_entry(void);

QF_EXPORT int qf_test_not_an_entry(void)
{
    return 42;
}

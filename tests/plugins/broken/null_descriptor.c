/*
 * null_descriptor.c - test plugin: its entry returns NULL instead of a
 * descriptor.
 */
#include "qf/plugin.h"

QF_EXPORT const qf_plugin_descriptor *qf_plugin_entry(void);

QF_EXPORT const qf_plugin_descriptor *qf_plugin_entry(void)
{
    return NULL;
}

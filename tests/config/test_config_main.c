/*
 * test_config_main.c - runs the configuration suites.
 */
#include <stdlib.h>

#include "test_config.h"

int main(void)
{
    SRunner *runner = srunner_create(config_node_suite());
    int failed;

    srunner_add_suite(runner, config_roles_suite());
    srunner_add_suite(runner, config_secret_suite());
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Subcommands of the crossroads binary; each returns the exit status. */
#ifndef CR_CMD_H
#define CR_CMD_H

int	cr_cmd_serve(int argc, char **argv);
int	cr_cmd_log(int argc, char **argv);
int	cr_cmd_directory(int argc, char **argv);
int	cr_cmd_source(int argc, char **argv);		/* cmd_source.c */
int	cr_cmd_gen(int argc, char **argv);		/* cmd_gen.c */
int	cr_cmd_registry(int argc, char **argv);		/* cmd_registry.c */
int	cr_cmd_demo(int argc, char **argv);		/* cmd_demo.c */
int	cr_cmd_batch(int argc, char **argv);		/* cmd_batch.c */

#endif

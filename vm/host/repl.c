/* repl.c — placeholder */

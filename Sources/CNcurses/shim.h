// ncurses with wide characters (ncursesw), for the terminal client. Attribute and color macros expand to
// expressions Swift cannot import, so the few the client uses are wrapped as inline functions.
#ifndef CHAT_NCURSES_SHIM_H
#define CHAT_NCURSES_SHIM_H
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <ncursesw/curses.h>

static inline int chat_attr_bold(void) { return A_BOLD; }
static inline int chat_attr_dim(void) { return A_DIM; }
static inline int chat_attr_reverse(void) { return A_REVERSE; }
static inline int chat_attr_underline(void) { return A_UNDERLINE; }
static inline int chat_color_pair(short pair) { return COLOR_PAIR(pair); }
static inline int chat_lines(void) { return LINES; }
static inline int chat_columns(void) { return COLS; }
static inline WINDOW *chat_stdscr(void) { return stdscr; }
#endif

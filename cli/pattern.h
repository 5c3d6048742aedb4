/*
 * pattern.h -- the glob patterns of pack's --include and --exclude and of
 * fota's --protect.
 */
#ifndef FSG_CLI_PATTERN_H
#define FSG_CLI_PATTERN_H

/* Matches a /usr/... name against a pattern: "*" is any run of characters
 * but '/', "?" one character but '/', "[abc]" / "[a-z]" / "[!a-z]" a class,
 * "**" any run including '/', and a "**" component also matches no directory
 * at all (so "**" + "/x.py" matches "x.py"); "\" escapes the next character.
 * A pattern not starting with '/' is relative to /usr/. Returns non-zero on
 * a match. */
int pattern_match(const char *pattern, const char *name);

#endif

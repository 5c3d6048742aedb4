/*
 * error.c -- what errors mean: English texts for error codes and entry
 * defects, and which errors are passing trouble rather than an answer.
 */
#include "fsg_internal.h"

const char *fsg_strerror(int err)
{
    switch (err) {
    case FSG_OK: return "success";
    case FSG_ERR_NOENT: return "no such file or directory";
    case FSG_ERR_IO: return "input/output error";
    case FSG_ERR_LOCKED: return "device busy: another operation holds its lock";
    case FSG_ERR_NOMEM: return "out of memory";
    case FSG_ERR_ACCES: return "permission denied";
    case FSG_ERR_BUSY: return "a committed update is unfinished (boot finishes it)";
    case FSG_ERR_EXIST: return "file exists";
    case FSG_ERR_NOTDIR: return "a path component is not a directory";
    case FSG_ERR_ISDIR: return "is a directory";
    case FSG_ERR_INVAL: return "invalid argument";
    case FSG_ERR_FBIG: return "file too large";
    case FSG_ERR_NOSPC: return "no space left on device";
    case FSG_ERR_ROFS: return "read-only file system";
    case FSG_ERR_NAMETOOLONG: return "file name too long";
    case FSG_ERR_LOOP: return "a path component is a symbolic link";
    case FSG_ERR_NOTSUP: return "operation not supported by the storage port or by this build";
    case FSG_ERR_CORRUPT: return "malformed content";
    case FSG_ERR_NOTREG: return "not a regular file";
    case FSG_ERR_BADNAME: return "not a valid protected-file name";
    case FSG_ERR_NOTPROTECTED: return "not listed in checksum.json";
    case FSG_ERR_MISMATCH: return "data read back differs from data written";
    case FSG_ERR_SIGNATURE: return "the backup checksum.json is not signed by the given key";
    case FSG_ERR_CANCELLED: return "cancelled";
    default: return "unknown error";
    }
}

const char *fsg_defect_str(int defect)
{
    switch (defect) {
    case FSG_DEFECT_NONE: return "valid";
    case FSG_DEFECT_NOT_OBJECT: return "entry is not a JSON object";
    case FSG_DEFECT_DUP_KEY: return "entry has the same key twice";
    case FSG_DEFECT_NO_NAME: return "entry has no \"name\"";
    case FSG_DEFECT_NAME_TYPE: return "\"name\" is not a string";
    case FSG_DEFECT_NAME_OUTSIDE: return "name is not under /usr/";
    case FSG_DEFECT_NAME_DOTS: return "name has a \".\" or \"..\" component";
    case FSG_DEFECT_NAME_EMPTY: return "name has an empty component";
    case FSG_DEFECT_NAME_LONG: return "name is too long";
    case FSG_DEFECT_NAME_CHARS:
        return "name has a control character, a backslash, invalid UTF-8 or half a surrogate pair";
    case FSG_DEFECT_NAME_RESERVED: return "name is reserved for fsguard's own files";
    case FSG_DEFECT_NO_HASH: return "entry has neither \"crc32\" nor \"sha256\"";
    case FSG_DEFECT_HASH_TYPE: return "\"crc32\" or \"sha256\" is not a string";
    case FSG_DEFECT_HASH_BAD:
        return "\"crc32\" is not a 32-bit hex value, or \"sha256\" not 64 hex digits";
    case FSG_DEFECT_DUPLICATE: return "an earlier entry has the same name";
    case FSG_DEFECT_PENDING_BAD:
        return "\"fsg_pending\" or \"fsg_pending_sha256\" is malformed or does not match the "
               "entry's kinds of hash";
    case FSG_DEFECT_HASH_UNSUPPORTED:
        return "entry has a \"sha256\", and this build of fsguard checks CRC-32 only";
    default: return "unknown defect";
    }
}

bool fsg_err_transient(int err)
{
    switch (err) {
    case FSG_OK:
    case FSG_ERR_NOENT:
    case FSG_ERR_NOTREG:
    case FSG_ERR_ISDIR:
    case FSG_ERR_NOTDIR:
    case FSG_ERR_LOOP:
    case FSG_ERR_NAMETOOLONG:
    case FSG_ERR_CORRUPT:
    case FSG_ERR_FBIG:
    case FSG_ERR_NOMEM:
        return false;
    default:
        return true;
    }
}

/* lib/banned.h: functions that have a safer helper here. Using one is a compile error.
 * Included last by every .c file of the project (through the build's -include flag).
 */
#pragma once

#define BANNED(func) sorry_##func##_is_banned

#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef strcpy
#define strcpy(...) BANNED(strcpy)
#undef strcat
#define strcat(...) BANNED(strcat)
#undef strncpy
#define strncpy(...) BANNED(strncpy)
#undef strtok
#define strtok(...) BANNED(strtok)
#undef atoi
#define atoi(...) BANNED(atoi)
#undef system
#define system(...) BANNED(system)
#undef popen
#define popen(...) BANNED(popen)

// The usage texts busybox 1.35 (Debian 1:1.35.0-4+deb12u1+b1) prints for a bad
// option or missing operand, copied from its --help output, and the line before
// them. Only for the applets the guest shell implements.
#include <string_view>

#include "shell/internal.h"

namespace memplug::shell::sh {

namespace {

struct Usage {
    std::string_view name;
    std::string_view text;
};

constexpr Usage k_usages[] = {
    {"basename",
     "Usage: basename FILE [SUFFIX] | -a FILE... | -s SUFFIX FILE...\n"
     "\n"
     "Strip directory path and SUFFIX from FILE\n"
     "\n"
     "\t-a\t\tAll arguments are FILEs\n"
     "\t-s SUFFIX\tRemove SUFFIX (implies -a)\n"},
    {"cat",
     "Usage: cat [-nbvteA] [FILE]...\n"
     "\n"
     "Print FILEs to stdout\n"
     "\n"
     "\t-n\tNumber output lines\n"
     "\t-b\tNumber nonempty lines\n"
     "\t-v\tShow nonprinting characters as ^x or M-x\n"
     "\t-t\t...and tabs as ^I\n"
     "\t-e\t...and end lines with $\n"
     "\t-A\tSame as -vte\n"},
    {"cmp",
     "Usage: cmp [-ls] [-n NUM] FILE1 [FILE2 [SKIP1 [SKIP2]]]\n"
     "\n"
     "Compare FILE1 with FILE2 (or stdin)\n"
     "\n"
     "\t-l\tWrite the byte numbers (decimal) and values (octal)\n"
     "\t\tfor all differing bytes\n"
     "\t-s\tQuiet\n"
     "\t-n NUM\tCompare at most NUM bytes\n"},
    {"cp",
     "Usage: cp [-arPLHpfinlsTu] SOURCE DEST\n"
     "or: cp [-arPLHpfinlsu] SOURCE... { -t DIRECTORY | DIRECTORY }\n"
     "\n"
     "Copy SOURCEs to DEST\n"
     "\n"
     "\t-a\tSame as -dpR\n"
     "\t-R,-r\tRecurse\n"
     "\t-d,-P\tPreserve symlinks (default if -R)\n"
     "\t-L\tFollow all symlinks\n"
     "\t-H\tFollow symlinks on command line\n"
     "\t-p\tPreserve file attributes if possible\n"
     "\t-f\tOverwrite\n"
     "\t-i\tPrompt before overwrite\n"
     "\t-n\tDon't overwrite\n"
     "\t-l,-s\tCreate (sym)links\n"
     "\t-T\tRefuse to copy if DEST is a directory\n"
     "\t-t DIR\tCopy all SOURCEs into DIR\n"
     "\t-u\tCopy only newer files\n"},
    {"cut",
     "Usage: cut [OPTIONS] [FILE]...\n"
     "\n"
     "Print selected fields from FILEs to stdout\n"
     "\n"
     "\t-b LIST\tOutput only bytes from LIST\n"
     "\t-c LIST\tOutput only characters from LIST\n"
     "\t-d SEP\tField delimiter for input (default -f TAB, -F run of whitespace)\n"
     "\t-O SEP\tField delimiter for output (default = -d for -f, one space for -F)\n"
     "\t-D\tDon't sort/collate sections or match -fF lines without delimiter\n"
     "\t-f LIST\tPrint only these fields (-d is single char)\n"
     "\t-F LIST\tPrint only these fields (-d is regex)\n"
     "\t-s\tOutput only lines containing delimiter\n"
     "\t-n\tIgnored\n"},
    {"dd",
     "Usage: dd [if=FILE] [of=FILE] [ibs=N obs=N/bs=N] [count=N] [skip=N] [seek=N]\n"
     "\t[conv=notrunc|noerror|sync|fsync]\n"
     "\t[iflag=skip_bytes|count_bytes|fullblock|direct] [oflag=seek_bytes|append|direct]\n"
     "\n"
     "Copy a file with converting and formatting\n"
     "\n"
     "\tif=FILE\t\tRead from FILE instead of stdin\n"
     "\tof=FILE\t\tWrite to FILE instead of stdout\n"
     "\tbs=N\t\tRead and write N bytes at a time\n"
     "\tibs=N\t\tRead N bytes at a time\n"
     "\tobs=N\t\tWrite N bytes at a time\n"
     "\tcount=N\t\tCopy only N input blocks\n"
     "\tskip=N\t\tSkip N input blocks\n"
     "\tseek=N\t\tSkip N output blocks\n"
     "\tconv=notrunc\tDon't truncate output file\n"
     "\tconv=noerror\tContinue after read errors\n"
     "\tconv=sync\tPad blocks with zeros\n"
     "\tconv=fsync\tPhysically write data out before finishing\n"
     "\tconv=swab\tSwap every pair of bytes\n"
     "\tiflag=skip_bytes\tskip=N is in bytes\n"
     "\tiflag=count_bytes\tcount=N is in bytes\n"
     "\toflag=seek_bytes\tseek=N is in bytes\n"
     "\tiflag=direct\tO_DIRECT input\n"
     "\toflag=direct\tO_DIRECT output\n"
     "\tiflag=fullblock\tRead full blocks\n"
     "\toflag=append\tOpen output in append mode\n"
     "\tstatus=noxfer\tSuppress rate output\n"
     "\tstatus=none\tSuppress all output\n"
     "\n"
     "N may be suffixed by c (1), w (2), b (512), kB (1000), k (1024), MB, M, GB, G\n"},
    {"dirname",
     "Usage: dirname FILENAME\n"
     "\n"
     "Strip non-directory suffix from FILENAME\n"},
    {"dmesg",
     "Usage: dmesg [-cr] [-n LEVEL] [-s SIZE]\n"
     "\n"
     "Print or control the kernel ring buffer\n"
     "\n"
     "\t-c\t\tClear ring buffer after printing\n"
     "\t-n LEVEL\tSet console logging level\n"
     "\t-s SIZE\t\tBuffer size\n"
     "\t-r\t\tPrint raw message buffer\n"},
    {"find",
     "Usage: find [-HL] [PATH]... [OPTIONS] [ACTIONS]\n"
     "\n"
     "Search for files and perform actions on them.\n"
     "First failed action stops processing of current file.\n"
     "Defaults: PATH is current directory, action is '-print'\n"
     "\n"
     "\t-L,-follow\tFollow symlinks\n"
     "\t-H\t\t...on command line only\n"
     "\t-xdev\t\tDon't descend directories on other filesystems\n"
     "\t-maxdepth N\tDescend at most N levels. -maxdepth 0 applies\n"
     "\t\t\tactions to command line arguments only\n"
     "\t-mindepth N\tDon't act on first N levels\n"
     "\t-depth\t\tAct on directory *after* traversing it\n"
     "\n"
     "Actions:\n"
     "\t( ACTIONS )\tGroup actions for -o / -a\n"
     "\t! ACT\t\tInvert ACT's success/failure\n"
     "\tACT1 [-a] ACT2\tIf ACT1 fails, stop, else do ACT2\n"
     "\tACT1 -o ACT2\tIf ACT1 succeeds, stop, else do ACT2\n"
     "\t\t\tNote: -a has higher priority than -o\n"
     "\t-name PATTERN\tMatch file name (w/o directory name) to PATTERN\n"
     "\t-iname PATTERN\tCase insensitive -name\n"
     "\t-path PATTERN\tMatch path to PATTERN\n"
     "\t-ipath PATTERN\tCase insensitive -path\n"
     "\t-regex PATTERN\tMatch path to regex PATTERN\n"
     "\t-type X\t\tFile type is X (one of: f,d,l,b,c,s,p)\n"
     "\t-executable\tFile is executable\n"
     "\t-perm MASK\tAt least one mask bit (+MASK), all bits (-MASK),\n"
     "\t\t\tor exactly MASK bits are set in file's mode\n"
     "\t-mtime DAYS\tmtime is greater than (+N), less than (-N),\n"
     "\t\t\tor exactly N days in the past\n"
     "\t-atime DAYS\tatime +N/-N/N days in the past\n"
     "\t-ctime DAYS\tctime +N/-N/N days in the past\n"
     "\t-mmin MINS\tmtime is greater than (+N), less than (-N),\n"
     "\t\t\tor exactly N minutes in the past\n"
     "\t-amin MINS\tatime +N/-N/N minutes in the past\n"
     "\t-cmin MINS\tctime +N/-N/N minutes in the past\n"
     "\t-newer FILE\tmtime is more recent than FILE's\n"
     "\t-inum N\t\tFile has inode number N\n"
     "\t-samefile FILE\tFile is same as FILE\n"
     "\t-user NAME/ID\tFile is owned by given user\n"
     "\t-group NAME/ID\tFile is owned by given group\n"
     "\t-size N[bck]\tFile size is N (c:bytes,k:kbytes,b:512 bytes(def.))\n"
     "\t\t\t+/-N: file size is bigger/smaller than N\n"
     "\t-links N\tNumber of links is greater than (+N), less than (-N),\n"
     "\t\t\tor exactly N\n"
     "\t-empty\t\tMatch empty file/directory\n"
     "\t-prune\t\tIf current file is directory, don't descend into it\n"
     "If none of the following actions is specified, -print is assumed\n"
     "\t-print\t\tPrint file name\n"
     "\t-print0\t\tPrint file name, NUL terminated\n"
     "\t-exec CMD ARG ;\tRun CMD with all instances of {} replaced by\n"
     "\t\t\tfile name. Fails if CMD exits with nonzero\n"
     "\t-exec CMD ARG + Run CMD with {} replaced by list of file names\n"
     "\t-quit\t\tExit\n"},
    {"grep",
     "Usage: grep [-HhnlLoqvsrRiwFEz] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]...\n"
     "\n"
     "Search for PATTERN in FILEs (or stdin)\n"
     "\n"
     "\t-H\tAdd 'filename:' prefix\n"
     "\t-h\tDo not add 'filename:' prefix\n"
     "\t-n\tAdd 'line_no:' prefix\n"
     "\t-l\tShow only names of files that match\n"
     "\t-L\tShow only names of files that don't match\n"
     "\t-c\tShow only count of matching lines\n"
     "\t-o\tShow only the matching part of line\n"
     "\t-q\tQuiet. Return 0 if PATTERN is found, 1 otherwise\n"
     "\t-v\tSelect non-matching lines\n"
     "\t-s\tSuppress open and read errors\n"
     "\t-r\tRecurse\n"
     "\t-R\tRecurse and dereference symlinks\n"
     "\t-i\tIgnore case\n"
     "\t-w\tMatch whole words only\n"
     "\t-x\tMatch whole lines only\n"
     "\t-F\tPATTERN is a literal (not regexp)\n"
     "\t-E\tPATTERN is an extended regexp\n"
     "\t-z\tNUL terminated input\n"
     "\t-m N\tMatch up to N times per file\n"
     "\t-A N\tPrint N lines of trailing context\n"
     "\t-B N\tPrint N lines of leading context\n"
     "\t-C N\tSame as '-A N -B N'\n"
     "\t-e PTRN\tPattern to match\n"
     "\t-f FILE\tRead pattern from file\n"},
    {"head",
     "Usage: head [OPTIONS] [FILE]...\n"
     "\n"
     "Print first 10 lines of FILEs (or stdin).\n"
     "With more than one FILE, precede each with a filename header.\n"
     "\n"
     "\t-n N[bkm]\tPrint first N lines\n"
     "\t-n -N[bkm]\tPrint all except N last lines\n"
     "\t-c [-]N[bkm]\tPrint first N bytes\n"
     "\t\t\t(b:*512 k:*1024 m:*1024^2)\n"
     "\t-q\t\tNever print headers\n"
     "\t-v\t\tAlways print headers\n"},
    {"ls",
     "Usage: ls [-1AaCxdLHRFplinshrSXvctu] [-w WIDTH] [FILE]...\n"
     "\n"
     "List directory contents\n"
     "\n"
     "\t-1\tOne column output\n"
     "\t-a\tInclude names starting with .\n"
     "\t-A\tLike -a, but exclude . and ..\n"
     "\t-x\tList by lines\n"
     "\t-d\tList directory names, not contents\n"
     "\t-L\tFollow symlinks\n"
     "\t-H\tFollow symlinks on command line\n"
     "\t-R\tRecurse\n"
     "\t-p\tAppend / to directory names\n"
     "\t-F\tAppend indicator (one of */=@|) to names\n"
     "\t-l\tLong format\n"
     "\t-i\tList inode numbers\n"
     "\t-n\tList numeric UIDs and GIDs instead of names\n"
     "\t-s\tList allocated blocks\n"
     "\t-lc\tList ctime\n"
     "\t-lu\tList atime\n"
     "\t--full-time\tList full date/time\n"
     "\t-h\tHuman readable sizes (1K 243M 2G)\n"
     "\t--group-directories-first\n"
     "\t-S\tSort by size\n"
     "\t-X\tSort by extension\n"
     "\t-v\tSort by version\n"
     "\t-t\tSort by mtime\n"
     "\t-tc\tSort by ctime\n"
     "\t-tu\tSort by atime\n"
     "\t-r\tReverse sort order\n"
     "\t-w N\tFormat N columns wide\n"
     "\t--color[={always,never,auto}]\n"},
    {"md5sum",
     "Usage: md5sum [-c[sw]] [FILE]...\n"
     "\n"
     "Print or check MD5 checksums\n"
     "\n"
     "\t-c\tCheck sums against list in FILEs\n"
     "\t-s\tDon't output anything, status code shows success\n"
     "\t-w\tWarn about improperly formatted checksum lines\n"},
    {"readlink",
     "Usage: readlink [-fnv] FILE\n"
     "\n"
     "Display the value of a symlink\n"
     "\n"
     "\t-f\tCanonicalize by following all symlinks\n"
     "\t-n\tDon't add newline\n"
     "\t-v\tVerbose\n"},
    {"rm",
     "Usage: rm [-irf] FILE...\n"
     "\n"
     "Remove (unlink) FILEs\n"
     "\n"
     "\t-i\tAlways prompt before removing\n"
     "\t-f\tNever prompt\n"
     "\t-R,-r\tRecurse\n"},
    {"seq",
     "Usage: seq [-w] [-s SEP] [FIRST [INC]] LAST\n"
     "\n"
     "Print numbers from FIRST to LAST, in steps of INC.\n"
     "FIRST, INC default to 1.\n"
     "\n"
     "\t-w\tPad to last with leading zeros\n"
     "\t-s SEP\tString separator\n"},
    {"sh",
     "Usage: sh [-il] [-|+Cabefmnuvx] [-|+o OPT]... [-c 'SCRIPT' [ARG0 ARGS] | FILE ARGS | -s ARGS]\n"
     "\n"
     "Unix shell interpreter\n"},
    {"sleep",
     "Usage: sleep [N]...\n"
     "\n"
     "Pause for a time equal to the total of the args given, where each arg can\n"
     "have an optional suffix of (s)econds, (m)inutes, (h)ours, or (d)ays\n"},
    {"sort",
     "Usage: sort [-nrugMcszbdfiokt] [-o FILE] [-k START[.OFS][OPTS][,END[.OFS][OPTS]] [-t CHAR] [FILE]...\n"
     "\n"
     "Sort lines of text\n"
     "\n"
     "\t-o FILE\tOutput to FILE\n"
     "\t-c\tCheck whether input is sorted\n"
     "\t-b\tIgnore leading blanks\n"
     "\t-f\tIgnore case\n"
     "\t-i\tIgnore unprintable characters\n"
     "\t-d\tDictionary order (blank or alphanumeric only)\n"
     "\t-n\tSort numbers\n"
     "\t-g\tGeneral numerical sort\n"
     "\t-M\tSort month\n"
     "\t-V\tSort version\n"
     "\t-t CHAR\tField separator\n"
     "\t-k N[,M] Sort by Nth field\n"
     "\t-r\tReverse sort order\n"
     "\t-s\tStable (don't sort ties alphabetically)\n"
     "\t-u\tSuppress duplicate lines\n"
     "\t-z\tNUL terminated input and output\n"},
    {"sync",
     "Usage: sync [-df] [FILE]...\n"
     "\n"
     "Write all buffered blocks (in FILEs) to disk\n"
     "\t-d\tAvoid syncing metadata\n"
     "\t-f\tSync filesystems underlying FILEs\n"},
    {"tail",
     "Usage: tail [OPTIONS] [FILE]...\n"
     "\n"
     "Print last 10 lines of FILEs (or stdin) to.\n"
     "With more than one FILE, precede each with a filename header.\n"
     "\n"
     "\t-c [+]N[bkm]\tPrint last N bytes\n"
     "\t-n N[bkm]\tPrint last N lines\n"
     "\t-n +N[bkm]\tStart on Nth line and print the rest\n"
     "\t\t\t(b:*512 k:*1024 m:*1024^2)\n"
     "\t-q\t\tNever print headers\n"
     "\t-v\t\tAlways print headers\n"
     "\t-f\t\tPrint data as file grows\n"
     "\t-F\t\tSame as -f, but keep retrying\n"
     "\t-s SECONDS\tWait SECONDS between reads with -f\n"},
    {"tee",
     "Usage: tee [-ai] [FILE]...\n"
     "\n"
     "Copy stdin to each FILE, and also to stdout\n"
     "\n"
     "\t-a\tAppend to the given FILEs, don't overwrite\n"
     "\t-i\tIgnore interrupt signals (SIGINT)\n"},
    {"tr",
     "Usage: tr [-cds] STRING1 [STRING2]\n"
     "\n"
     "Translate, squeeze, or delete characters from stdin, writing to stdout\n"
     "\n"
     "\t-c\tTake complement of STRING1\n"
     "\t-d\tDelete input characters coded STRING1\n"
     "\t-s\tSqueeze multiple output characters of STRING2 into one character\n"},
    {"truncate",
     "Usage: truncate [-c] -s SIZE FILE...\n"
     "\n"
     "Truncate FILEs to SIZE\n"
     "\n"
     "\t-c\tDo not create files\n"
     "\t-s SIZE\n"},
    {"uniq",
     "Usage: uniq [-cduiz] [-f,s,w N] [FILE [OUTFILE]]\n"
     "\n"
     "Discard duplicate lines\n"
     "\n"
     "\t-c\tPrefix lines by the number of occurrences\n"
     "\t-d\tOnly print duplicate lines\n"
     "\t-u\tOnly print unique lines\n"
     "\t-i\tIgnore case\n"
     "\t-z\tNUL terminated output\n"
     "\t-f N\tSkip first N fields\n"
     "\t-s N\tSkip first N chars (after any skipped fields)\n"
     "\t-w N\tCompare N characters in line\n"},
    {"wc",
     "Usage: wc [-cmlwL] [FILE]...\n"
     "\n"
     "Count lines, words, and bytes for FILEs (or stdin)\n"
     "\n"
     "\t-c\tCount bytes\n"
     "\t-m\tCount characters\n"
     "\t-l\tCount newlines\n"
     "\t-w\tCount words\n"
     "\t-L\tPrint longest line length\n"},
    {"xargs",
     "Usage: xargs [OPTIONS] [PROG ARGS]\n"
     "\n"
     "Run PROG on every item given by stdin\n"
     "\n"
     "\t-0\tNUL terminated input\n"
     "\t-a FILE\tRead from FILE instead of stdin\n"
     "\t-r\tDon't run command if input is empty\n"
     "\t-t\tPrint the command on stderr before execution\n"
     "\t-p\tAsk user whether to run each command\n"
     "\t-E STR,-e[STR]\tSTR stops input processing\n"
     "\t-I STR\tReplace STR within PROG ARGS with input line\n"
     "\t-n N\tPass no more than N args to PROG\n"
     "\t-s N\tPass command line of no more than N bytes\n"
     "\t-P N\tRun up to N PROGs in parallel\n"
     "\t-x\tExit if size is exceeded\n"},
};

}  // namespace

std::string_view usage_header()
{
    return "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\n\n";
}

std::string_view applet_usage(std::string_view name)
{
    for (const Usage& u : k_usages)
        if (u.name == name)
            return u.text;
    return {};
}

}  // namespace memplug::shell::sh

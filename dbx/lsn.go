package dbx

import (
	"fmt"
	"strconv"
	"strings"
)

// LSN is a position in the write-ahead log, as Postgres's pg_lsn: 64 bits,
// written "X/Y" in hexadecimal (high and low 32 bits).
type LSN uint64

// String writes the LSN as Postgres does: "16/B374D848".
func (l LSN) String() string {
	return strconv.FormatUint(uint64(l)>>32, 16) + "/" + strconv.FormatUint(uint64(l)&0xffffffff, 16)
}

// ParseLSN reads Postgres's "X/Y" form.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, fmt.Errorf("dbx: LSN %q: want two hexadecimal numbers of at most 8 digits, as in 16/B374D848", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("dbx: LSN %q: want two hexadecimal numbers, as in 16/B374D848", s)
	}
	return LSN(h<<32 | l), nil
}

package loader

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Shape returns the normalised form of a SQL statement that the N+1
// [Detector] counts: comments dropped, whitespace collapsed, everything
// outside quoted identifiers lower-cased, and every literal and placeholder
// replaced by ?, with lists of them collapsed, so that
//
//	SELECT * FROM customers WHERE id = $1
//	select *  from customers where id = 42 -- by id
//
// both have the shape "select * from customers where id = ?".
func Shape(sql string) string {
	var b strings.Builder
	b.Grow(len(sql))
	space := false // a space is pending
	emit := func(s string) {
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(s)
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			space = true
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			space = true
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				i = len(sql)
			} else {
				i += 2 + end + 2
			}
			space = true
		case c == '\'':
			i = skipQuoted(sql, i, '\'')
			emit("?")
		case c == '"':
			j := skipQuoted(sql, i, '"')
			emit(sql[i:j])
			i = j
		case c == '$' && i+1 < len(sql) && isDigit(sql[i+1]):
			i++
			for i < len(sql) && isDigit(sql[i]) {
				i++
			}
			emit("?")
		case isDigit(c) || (c == '.' && i+1 < len(sql) && isDigit(sql[i+1])):
			for i < len(sql) && (isDigit(sql[i]) || sql[i] == '.' || sql[i] == 'e' || sql[i] == 'E') {
				i++
			}
			emit("?")
		case isIdent(c):
			j := i
			for j < len(sql) && (isIdent(sql[j]) || isDigit(sql[j])) {
				j++
			}
			emit(strings.ToLower(sql[i:j]))
			i = j
		default:
			// Punctuation: no space before , and ) or after (.
			if c == ',' || c == ')' {
				space = false
			}
			emit(string(c))
			if c == '(' {
				space = false
			}
			i++
		}
	}
	s := b.String()
	for strings.Contains(s, "?,?") || strings.Contains(s, "?, ?") {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "?, ?", "?"), "?,?", "?")
	}
	return s
}

// skipQuoted returns the index after the quoted text starting at sql[i];
// a doubled quote is an escaped one.
func skipQuoted(sql string, i int, q byte) int {
	for i++; i < len(sql); i++ {
		if sql[i] == q {
			if i+1 < len(sql) && sql[i+1] == q {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(sql)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdent(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c >= 0x80
}

// shapeCache remembers the shapes of the statements an application runs,
// which are few; past maxShapes distinct texts (an application that inlines
// literals) it stops remembering and computes.
type shapeCache struct {
	m sync.Map // sql -> shape
	n atomic.Int64
}

const maxShapes = 4096

func (c *shapeCache) shape(sql string) string {
	if v, ok := c.m.Load(sql); ok {
		return v.(string)
	}
	s := Shape(sql)
	if c.n.Load() < maxShapes {
		if _, loaded := c.m.LoadOrStore(sql, s); !loaded {
			c.n.Add(1)
		}
	}
	return s
}

package budgetcheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Source is one input stream: a file, or standard input named "-".
type Source struct {
	Name string // the file name as given, or "-" for standard input
	Data []byte
}

// ReadSources reads the named inputs: files, directories (walked
// recursively for *.yaml, *.yml and *.json, in lexical order) and "-" for
// stdin. It returns a *[InputError] when an input cannot be read; the CLI
// exits 2 on it.
func ReadSources(ctx context.Context, stdin io.Reader, paths ...string) ([]Source, error) {
	if len(paths) == 0 {
		return nil, &InputError{Reason: "no input", Fix: `name files or directories, or "-" for standard input`}
	}
	var out []Source
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p == "-" {
			if stdin == nil {
				return nil, &InputError{Path: p, Reason: "no standard input"}
			}
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, &InputError{Path: p, Reason: "reading standard input", Err: err}
			}
			out = append(out, Source{Name: "-", Data: data})
			continue
		}
		files, err := manifestFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, &InputError{Path: f, Reason: "reading file", Err: err}
			}
			out = append(out, Source{Name: f, Data: data})
		}
	}
	return out, nil
}

// manifestFiles turns a path into the manifest files it names.
func manifestFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, &InputError{Path: p, Reason: "cannot read input", Err: err, Fix: "check the path"}
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isManifestName(path) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, &InputError{Path: p, Reason: "walking directory", Err: err}
	}
	sort.Strings(files)
	return files, nil
}

func isManifestName(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// document is one YAML document of a source with the line it starts on.
type document struct {
	file string
	line int // 1-based line of the document's first line
	data []byte
}

// splitDocuments cuts a YAML stream at "---" separator lines, remembering
// where each document starts so that errors can name file:line. Documents
// are slices of src.Data, not copies.
func splitDocuments(src Source) []document {
	var docs []document
	data := src.Data
	start, startLine := 0, 1 // the current document's first byte and line
	flush := func(end, next, nextLine int) {
		if doc := data[start:end:end]; hasContent(doc) {
			docs = append(docs, document{file: src.Name, line: startLine, data: doc})
		}
		start, startLine = next, nextLine
	}
	line := 1
	for off := 0; off < len(data); line++ {
		end := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i + 1
		}
		if isSeparator(data[off:end]) {
			flush(off, end, line+1)
		}
		off = end
	}
	flush(len(data), len(data), line)
	return docs
}

func isSeparator(l []byte) bool {
	if !bytes.HasPrefix(l, []byte("---")) {
		return false
	}
	rest := bytes.TrimSpace(l[3:])
	return len(rest) == 0 || rest[0] == '#'
}

// hasContent reports whether a document holds more than blank lines and
// full-line comments, so that one holding only comments (as helm template
// emits) is not decoded.
func hasContent(doc []byte) bool {
	for len(doc) > 0 {
		var l []byte
		l, doc, _ = bytes.Cut(doc, []byte("\n"))
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			return true
		}
	}
	return false
}

// Location is where an object was read: file and 1-based line.
type Location struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (l Location) String() string {
	if l.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", l.File, l.Line)
}

package budgetcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Source is one input stream: a file, or standard input named "-".
type Source struct {
	Name string // the file name as given, or "-" for standard input
	Data []byte
	// Unit is the deployment unit the source belongs to: the kustomization
	// directory it was built from or the chart it was rendered from; ""
	// for loose manifests. Each unit is checked on its own (see units.go).
	Unit string

	// failed are PGF011 problems of the unit, located at Name (the
	// kustomization or Chart.yaml): it, or part of it, was not built.
	failed []problem
}

// ReadSources reads the named inputs: files, directories (walked
// recursively for *.yaml, *.yml and *.json, in lexical order) and "-" for
// stdin. A directory holding kustomization.yaml is built as kubectl
// kustomize builds it and one holding Chart.yaml is rendered as helm
// template renders it; in a tree, each kustomization no other one
// references and each chart is a deployment unit of its own, and their
// files are not read raw. It uses the default [Options] (see
// [ReadSourcesWith] and [Run] for others).
// It returns a *[InputError] when an input cannot be read; the CLI exits 2
// on it.
func ReadSources(ctx context.Context, stdin io.Reader, paths ...string) ([]Source, error) {
	return readSources(ctx, Options{}, stdin, paths...)
}

// ReadSourcesWith is [ReadSources] with the bounds and the Helm values of
// opts: kustomizations are built and charts rendered while reading (see
// units.go), so the values must be known here.
func ReadSourcesWith(ctx context.Context, opts Options, stdin io.Reader, paths ...string) ([]Source, error) {
	return readSources(ctx, opts, stdin, paths...)
}

func readSources(ctx context.Context, opts Options, stdin io.Reader, paths ...string) ([]Source, error) {
	if len(paths) == 0 {
		return nil, &InputError{Reason: "no input", Fix: `name files or directories, or "-" for standard input`}
	}
	limit := opts.maxFileBytes()
	var out []Source
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p == "-" {
			if stdin == nil {
				return nil, &InputError{Path: p, Reason: "no standard input"}
			}
			data, err := readLimited(stdin, limit)
			if err != nil {
				return nil, inputReadError(p, err)
			}
			out = append(out, Source{Name: "-", Data: data})
			continue
		}
		l, err := planPath(p)
		if err != nil {
			return nil, err
		}
		out = append(out, buildUnits(ctx, l, opts)...)
		if len(l.kustomizations)+len(l.charts) > 0 && !isDir(p) {
			continue // a kustomization or Chart.yaml file named on its own
		}
		files, err := manifestFiles(p, len(l.kustomizations)+len(l.charts) > 0)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if !l.raw(f) {
				continue
			}
			data, err := readFile(ctx, f, limit, opts.readTimeout())
			if err != nil {
				return nil, err
			}
			out = append(out, Source{Name: f, Data: data})
		}
	}
	return out, nil
}

// errTooLarge is returned by readLimited for an input over the limit.
var errTooLarge = errors.New("too large")

// readLimited reads r to its end, or fails with errTooLarge after limit
// bytes: the limit is checked on what is read, not on what a file claims.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge
	}
	return data, nil
}

func inputReadError(path string, err error) error {
	if errors.Is(err, errTooLarge) {
		return &InputError{Path: path, Reason: "input larger than the size limit",
			Fix: "raise --max-file-bytes (Options.MaxFileBytes) if it really is a manifest"}
	}
	return &InputError{Path: path, Reason: "reading input", Err: err}
}

// readFile reads one input. A regular file is checked against the limit
// before it is read. Anything else (a FIFO, a device such as /dev/zero, a
// process substitution) is read with the size limit and a timeout, so that
// neither an endless stream nor a FIFO with no writer can hang the check.
func readFile(ctx context.Context, path string, limit int64, timeout time.Duration) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &InputError{Path: path, Reason: "cannot read input", Err: err, Fix: "check the path"}
	}
	if st.Mode().IsRegular() {
		if st.Size() > limit {
			return nil, inputReadError(path, errTooLarge)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, &InputError{Path: path, Reason: "reading file", Err: err}
		}
		defer f.Close()
		data, err := readLimited(f, limit)
		if err != nil {
			return nil, inputReadError(path, err)
		}
		return data, nil
	}
	f, err := openStream(path)
	if err != nil {
		return nil, &InputError{Path: path, Reason: "opening " + st.Mode().Type().String() + " input", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_ = f.SetReadDeadline(time.Now().Add(timeout)) // works where the file is pollable
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := readLimited(f, limit)
		done <- result{data, err}
	}()
	var r result
	select {
	case r = <-done:
		f.Close()
	case <-ctx.Done():
		f.Close() // unblocks the read where the OS allows; the goroutine then ends
		return nil, &InputError{Path: path, Reason: fmt.Sprintf("no end of input within %s (a FIFO or device that never ends?)", timeout),
			Fix: "pass a regular file, or raise --read-timeout"}
	}
	switch {
	case errors.Is(r.err, os.ErrDeadlineExceeded):
		return nil, &InputError{Path: path, Reason: fmt.Sprintf("no end of input within %s (a FIFO or device that never ends?)", timeout),
			Fix: "pass a regular file, or raise --read-timeout"}
	case r.err != nil:
		return nil, inputReadError(path, r.err)
	case len(r.data) == 0:
		return nil, &InputError{Path: path, Reason: "no data in " + st.Mode().Type().String() + " input (a FIFO with no writer?)",
			Fix: "start the writer first, or pass a regular file"}
	}
	return r.data, nil
}

// manifestFiles turns a path into the manifest files it names. Walking a
// directory takes regular files only (and links to them): a FIFO or a link
// to a device named *.yaml is an error rather than a read that never ends.
// units says whether the path also holds kustomizations or charts: a
// directory with nothing else is not an error then.
func manifestFiles(p string, units bool) ([]string, error) {
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
		if d.IsDir() || !isManifestName(path) {
			return nil
		}
		mode := d.Type()
		if mode&fs.ModeSymlink != 0 {
			st, err := os.Stat(path)
			if err != nil {
				return &InputError{Path: path, Reason: "broken link", Err: err, Fix: "fix or remove the link"}
			}
			if st.IsDir() {
				return nil // filepath.WalkDir does not follow links to directories
			}
			mode = st.Mode().Type()
		}
		if !mode.IsRegular() {
			return &InputError{Path: path, Reason: "not a regular file (" + mode.String() + ") in a directory",
				Fix: "remove it, or name it on the command line to read it with a timeout"}
		}
		files = append(files, path)
		return nil
	})
	if ie := (*InputError)(nil); errors.As(err, &ie) {
		return nil, ie
	}
	if err != nil {
		return nil, &InputError{Path: p, Reason: "walking directory", Err: err}
	}
	if len(files) == 0 && !units {
		return nil, &InputError{Path: p, Reason: "no *.yaml, *.yml or *.json files in the directory",
			Fix: "name the directory that holds the manifests"}
	}
	sort.Strings(files)
	return files, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
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

// splitDocuments cuts a YAML stream into documents, remembering where each
// starts so that errors can name file:line: at "---" lines, at "..."
// document ends, and before a "---" followed by content on the same line
// ("--- {...}" starts a document there, the marker included). Directives
// ("%YAML 1.1") and comments before a "---" are not a document. A
// document of concatenated JSON values ("{...}{...}", one per line) is cut
// into one document per value (see [splitJSON]). Documents are slices of
// src.Data, not copies.
func splitDocuments(src Source) []document {
	var docs []document
	data := src.Data
	start, startLine := 0, 1 // the current document's first byte and line
	flush := func(end, next, nextLine int) {
		if doc := data[start:end:end]; hasContent(doc) {
			docs = append(docs, splitJSON(document{file: src.Name, line: startLine, data: doc})...)
		}
		start, startLine = next, nextLine
	}
	line := 1
	for off := 0; off < len(data); line++ {
		end := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i + 1
		}
		switch l := data[off:end]; {
		case isMarker(l, "---"), isMarker(l, "..."):
			flush(off, end, line+1)
		case isMarkerWithContent(l):
			flush(off, off, line)
		}
		off = end
	}
	flush(len(data), len(data), line)
	return docs
}

// isMarker reports whether a line is the marker alone, or with a comment.
func isMarker(l []byte, marker string) bool {
	if !bytes.HasPrefix(l, []byte(marker)) {
		return false
	}
	rest := bytes.TrimSpace(l[len(marker):])
	return len(rest) == 0 || rest[0] == '#'
}

// isMarkerWithContent reports whether a line is "---", a blank and content:
// a document that starts on the separator line.
func isMarkerWithContent(l []byte) bool {
	return bytes.HasPrefix(l, []byte("--- ")) || bytes.HasPrefix(l, []byte("---\t"))
}

// hasContent reports whether a document holds more than blank lines,
// full-line comments and directives, so that one holding only comments (as
// helm template emits) is not decoded.
func hasContent(doc []byte) bool {
	for len(doc) > 0 {
		var l []byte
		l, doc, _ = bytes.Cut(doc, []byte("\n"))
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' && l[0] != '%' {
			return true
		}
	}
	return false
}

// splitJSON cuts a document holding several concatenated JSON values
// ("{...}{...}" or one object per line, as some tools stream them) into one
// document per value, each with its own line. A document that is one value,
// or not JSON at all (a YAML flow mapping), is returned as it is; if a later
// value is not JSON, the rest becomes one document, which the decoder then
// reports.
func splitJSON(d document) []document {
	trimmed := bytes.TrimLeft(d.data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return []document{d}
	}
	dec := json.NewDecoder(bytes.NewReader(d.data))
	var out []document
	prev := 0
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			if len(out) == 0 {
				return []document{d}
			}
			if err != io.EOF {
				rest := d.data[prev:]
				out = append(out, document{file: d.file, line: d.line + bytes.Count(d.data[:prev], []byte("\n")), data: rest})
			}
			break
		}
		next := int(dec.InputOffset())
		at := prev + (len(d.data[prev:next]) - len(bytes.TrimLeft(d.data[prev:next], " \t\r\n")))
		out = append(out, document{file: d.file, line: d.line + bytes.Count(d.data[:at], []byte("\n")), data: d.data[at:next:next]})
		prev = next
		if !hasContent(d.data[prev:]) {
			break
		}
	}
	if len(out) == 1 {
		return []document{d}
	}
	return out
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

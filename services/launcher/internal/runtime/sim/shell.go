package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// A small POSIX-like shell: enough of sh for the commands batch jobs use in
// tests and benchmarks (`sh -c "echo a; sleep 2; exit 3"`). It knows lists
// (`;`, `&&`, `||`, newlines), pipelines (`|`, run one stage after the
// other), quoting ('', "", \), $VAR / ${VAR} / $? expansion, the
// redirections `>&2`, `2>&1`, `>/dev/null`, `2>/dev/null`, `< file`, and the
// programs below. Files are virtual: /dev/null, /dev/zero and the cgroup
// limits of the container.

// errExit ends a script early with a status (the exit builtin).
type errExit struct{ code int }

func (e errExit) Error() string { return fmt.Sprintf("exit %d", e.code) }

// proc is one running program's environment.
type proc struct {
	ctx    context.Context
	env    map[string]string
	files  func(path string) (io.Reader, bool)
	status int // $?
}

// programs the simulated image provides, beyond the shell's builtins.
var programs = map[string]func(p *proc, args []string, in io.Reader, out, errw io.Writer) int{
	"true":   func(*proc, []string, io.Reader, io.Writer, io.Writer) int { return 0 },
	":":      func(*proc, []string, io.Reader, io.Writer, io.Writer) int { return 0 },
	"false":  func(*proc, []string, io.Reader, io.Writer, io.Writer) int { return 1 },
	"echo":   progEcho,
	"printf": progPrintf,
	"sleep":  progSleep,
	"seq":    progSeq,
	"cat":    progCat,
	"head":   progHead,
	"tr":     progTr,
	"env":    progEnv,
}

func init() { programs["sh"] = progSh }

// known reports whether a program name (with or without a /bin path) exists.
func known(name string) bool {
	_, ok := programs[baseName(name)]
	return ok || baseName(name) == "exit" || baseName(name) == "bash"
}

func baseName(name string) string {
	for _, dir := range []string{"/usr/local/bin/", "/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"} {
		if rest, ok := strings.CutPrefix(name, dir); ok {
			return rest
		}
	}
	return name
}

// exec runs one program with its arguments (argv[0] is its name).
func (p *proc) exec(argv []string, in io.Reader, out, errw io.Writer) (int, error) {
	name := baseName(argv[0])
	if name == "exit" {
		code := p.status
		if len(argv) > 1 {
			n, err := strconv.Atoi(argv[1])
			if err != nil {
				fmt.Fprintf(errw, "sh: exit: Illegal number: %s\n", argv[1])
				n = 2
			}
			code = n & 0xff
		}
		return code, errExit{code}
	}
	if name == "bash" {
		name = "sh"
	}
	fn, ok := programs[name]
	if !ok {
		fmt.Fprintf(errw, "sh: %s: not found\n", argv[0])
		return 127, nil
	}
	code := fn(p, argv[1:], in, out, errw)
	if err := p.ctx.Err(); err != nil {
		return code, err
	}
	return code, nil
}

func progEcho(_ *proc, args []string, _ io.Reader, out, _ io.Writer) int {
	newline := true
	if len(args) > 0 && args[0] == "-n" {
		newline, args = false, args[1:]
	}
	io.WriteString(out, strings.Join(args, " "))
	if newline {
		io.WriteString(out, "\n")
	}
	return 0
}

// progPrintf knows %s, %d, %% and the backslash escapes \n, \t, \\, \0.
func progPrintf(_ *proc, args []string, _ io.Reader, out, errw io.Writer) int {
	if len(args) == 0 {
		io.WriteString(errw, "printf: usage: printf format [arguments]\n")
		return 2
	}
	format, rest := unescape(args[0]), args[1:]
	for {
		var b strings.Builder
		used := false
		for i := 0; i < len(format); i++ {
			c := format[i]
			if c != '%' || i+1 == len(format) {
				b.WriteByte(c)
				continue
			}
			i++
			switch format[i] {
			case '%':
				b.WriteByte('%')
			case 's', 'd':
				arg := ""
				if len(rest) > 0 {
					arg, rest, used = rest[0], rest[1:], true
				}
				if format[i] == 'd' && arg == "" {
					arg = "0"
				}
				b.WriteString(arg)
			default:
				b.WriteByte('%')
				b.WriteByte(format[i])
			}
		}
		io.WriteString(out, b.String())
		if !used || len(rest) == 0 {
			return 0
		}
	}
}

// unescape turns printf's and tr's backslash escapes into bytes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '0':
			b.WriteByte(0)
		case '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// progSleep waits the sum of its arguments (seconds, or with s/m/h/d), or
// until the container is stopped.
func progSleep(p *proc, args []string, _ io.Reader, _, errw io.Writer) int {
	if len(args) == 0 {
		io.WriteString(errw, "sleep: missing operand\n")
		return 1
	}
	var total time.Duration
	for _, a := range args {
		unit := time.Second
		switch {
		case strings.HasSuffix(a, "s"):
			a = strings.TrimSuffix(a, "s")
		case strings.HasSuffix(a, "m"):
			a, unit = strings.TrimSuffix(a, "m"), time.Minute
		case strings.HasSuffix(a, "h"):
			a, unit = strings.TrimSuffix(a, "h"), time.Hour
		case strings.HasSuffix(a, "d"):
			a, unit = strings.TrimSuffix(a, "d"), 24*time.Hour
		}
		f, err := strconv.ParseFloat(a, 64)
		if err != nil || f < 0 {
			fmt.Fprintf(errw, "sleep: invalid time interval %q\n", a)
			return 1
		}
		total += time.Duration(f * float64(unit))
	}
	if total <= 0 {
		return 0
	}
	t := time.NewTimer(total)
	defer t.Stop()
	select {
	case <-t.C:
		return 0
	case <-p.ctx.Done():
		return 143
	}
}

func progSeq(_ *proc, args []string, _ io.Reader, out, errw io.Writer) int {
	first, step := 1, 1
	var last int
	nums := make([]int, len(args))
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil {
			fmt.Fprintf(errw, "seq: invalid number %q\n", a)
			return 1
		}
		nums[i] = n
	}
	switch len(nums) {
	case 1:
		last = nums[0]
	case 2:
		first, last = nums[0], nums[1]
	case 3:
		first, step, last = nums[0], nums[1], nums[2]
	default:
		io.WriteString(errw, "seq: usage: seq [first [step]] last\n")
		return 1
	}
	if step == 0 {
		return 1
	}
	var b bytes.Buffer
	for i := first; (step > 0 && i <= last) || (step < 0 && i >= last); i += step {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	out.Write(b.Bytes())
	return 0
}

// maxRead bounds what a program reads from an endless file (/dev/zero).
const maxRead = 16 << 20

func progCat(p *proc, args []string, in io.Reader, out, errw io.Writer) int {
	if len(args) == 0 {
		io.Copy(out, io.LimitReader(in, maxRead))
		return 0
	}
	code := 0
	for _, a := range args {
		r, ok := p.open(a, in)
		if !ok {
			fmt.Fprintf(errw, "cat: can't open '%s': No such file or directory\n", a)
			code = 1
			continue
		}
		io.Copy(out, io.LimitReader(r, maxRead))
	}
	return code
}

// progHead knows -c N and -n N (default -n 10), on a file or stdin.
func progHead(p *proc, args []string, in io.Reader, out, errw io.Writer) int {
	bytesMode, n := false, 10
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args) >= 2 {
		v, err := strconv.Atoi(args[1])
		if err != nil || (args[0] != "-c" && args[0] != "-n") {
			fmt.Fprintf(errw, "head: invalid option %s %s\n", args[0], args[1])
			return 1
		}
		bytesMode, n, args = args[0] == "-c", v, args[2:]
	}
	r := in
	if len(args) > 0 {
		var ok bool
		if r, ok = p.open(args[0], in); !ok {
			fmt.Fprintf(errw, "head: %s: No such file or directory\n", args[0])
			return 1
		}
	}
	if bytesMode {
		io.Copy(out, io.LimitReader(r, int64(n)))
		return 0
	}
	data, _ := io.ReadAll(io.LimitReader(r, maxRead))
	for i := 0; i < n && len(data) > 0; i++ {
		line, rest, found := bytes.Cut(data, []byte("\n"))
		out.Write(line)
		if found {
			out.Write([]byte("\n"))
		}
		data = rest
	}
	return 0
}

// progTr translates single bytes: tr SET1 SET2 (escapes as printf's).
func progTr(_ *proc, args []string, in io.Reader, out, errw io.Writer) int {
	if len(args) != 2 {
		io.WriteString(errw, "tr: usage: tr SET1 SET2\n")
		return 1
	}
	from, to := unescape(args[0]), unescape(args[1])
	if to == "" {
		return 1
	}
	var table [256]byte
	for i := range table {
		table[i] = byte(i)
	}
	for i := 0; i < len(from); i++ {
		table[from[i]] = to[min(i, len(to)-1)]
	}
	data, _ := io.ReadAll(io.LimitReader(in, maxRead))
	for i, c := range data {
		data[i] = table[c]
	}
	out.Write(data)
	return 0
}

func progEnv(p *proc, _ []string, _ io.Reader, out, _ io.Writer) int {
	var b strings.Builder
	for _, k := range sortedKeys(p.env) {
		b.WriteString(k + "=" + p.env[k] + "\n")
	}
	io.WriteString(out, b.String())
	return 0
}

// progSh runs `sh -c SCRIPT`.
func progSh(p *proc, args []string, in io.Reader, out, errw io.Writer) int {
	if len(args) < 2 || args[0] != "-c" {
		io.WriteString(errw, "sh: only sh -c SCRIPT is simulated\n")
		return 2
	}
	child := &proc{ctx: p.ctx, env: p.env, files: p.files}
	code, err := child.script(args[1], in, out, errw)
	var ex errExit
	if errors.As(err, &ex) {
		return ex.code
	}
	return code
}

// open opens a virtual file; "-" is stdin.
func (p *proc) open(path string, in io.Reader) (io.Reader, bool) {
	switch path {
	case "-":
		return in, true
	case "/dev/null":
		return strings.NewReader(""), true
	case "/dev/zero":
		return zeros{}, true
	}
	if p.files != nil {
		return p.files(path)
	}
	return nil, false
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// script parses and runs a shell script.
func (p *proc) script(src string, in io.Reader, out, errw io.Writer) (int, error) {
	toks, err := lex(src)
	if err != nil {
		fmt.Fprintf(errw, "sh: syntax error: %v\n", err)
		return 2, nil
	}
	// A list: pipelines joined by ; && || (and newlines).
	op := ";"
	for len(toks) > 0 {
		end := 0
		for end < len(toks) && !(toks[end].op && (toks[end].text == ";" || toks[end].text == "&&" || toks[end].text == "||")) {
			end++
		}
		pipeline := toks[:end]
		next := ";"
		if end < len(toks) {
			next = toks[end].text
			end++
		}
		toks = toks[end:]
		run := op == ";" || (op == "&&" && p.status == 0) || (op == "||" && p.status != 0)
		op = next
		if !run || len(pipeline) == 0 {
			continue
		}
		code, err := p.pipeline(pipeline, in, out, errw)
		p.status = code
		if err != nil {
			return code, err
		}
	}
	return p.status, nil
}

// pipeline runs cmd | cmd | ...: each stage after the previous one, its
// output buffered into the next one's input.
func (p *proc) pipeline(toks []token, in io.Reader, out, errw io.Writer) (int, error) {
	var stages [][]token
	start := 0
	for i, t := range toks {
		if t.op && t.text == "|" {
			stages = append(stages, toks[start:i])
			start = i + 1
		}
	}
	stages = append(stages, toks[start:])
	stdin := in
	code := 0
	for i, st := range stages {
		w := out
		var buf *bytes.Buffer
		if i < len(stages)-1 {
			buf = &bytes.Buffer{}
			w = buf
		}
		var err error
		code, err = p.simple(st, stdin, w, errw)
		if err != nil {
			var ex errExit
			if !errors.As(err, &ex) || i == len(stages)-1 {
				return code, err
			}
		}
		if buf != nil {
			stdin = buf
		}
	}
	return code, nil
}

// simple runs one command with its redirections.
func (p *proc) simple(toks []token, in io.Reader, out, errw io.Writer) (int, error) {
	var argv []string
	stdout, stderr, stdin := out, errw, in
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if !t.op {
			if name, value, ok := p.assignment(t); ok && len(argv) == 0 {
				p.env[name] = value // kept for the rest of the script
				continue
			}
			argv = append(argv, p.expand(t)...)
			continue
		}
		target := ""
		if i+1 < len(toks) && !toks[i+1].op {
			target = p.word(toks[i+1])
		}
		switch t.text {
		case ">&2", "1>&2":
			stdout = errw
		case "2>&1":
			stderr = stdout
		case ">", "1>", ">>", "2>", "2>>", "&>":
			if target == "" {
				fmt.Fprintf(errw, "sh: syntax error: %s without a file\n", t.text)
				return 2, nil
			}
			i++
			// Files other than /dev/null are not kept: what is written
			// to them is dropped.
			switch t.text {
			case "2>", "2>>":
				stderr = io.Discard
			case "&>":
				stdout, stderr = io.Discard, io.Discard
			default:
				stdout = io.Discard
			}
		case "<":
			if target == "" {
				return 2, nil
			}
			i++
			r, ok := p.open(target, in)
			if !ok {
				fmt.Fprintf(errw, "sh: can't open %s: no such file\n", target)
				return 1, nil
			}
			stdin = r
		default:
			fmt.Fprintf(errw, "sh: syntax error near %q\n", t.text)
			return 2, nil
		}
	}
	if len(argv) == 0 {
		return 0, nil
	}
	return p.exec(argv, stdin, stdout, stderr)
}

// token is a word (with its quoting kept for expansion) or an operator.
type token struct {
	text string
	op   bool
	// parts of a word: literal (quoted) text and expandable text.
	parts []part
}

type part struct {
	text   string
	quoted bool // single-quoted or escaped: no expansion, no splitting
	dquote bool // double-quoted: expansion, no splitting
}

var operators = []string{"&&", "||", "2>&1", "1>&2", ">&2", "2>>", "&>", ">>", "1>", "2>", ";", "|", ">", "<", "\n"}

// lex splits a script into words and operators.
func lex(src string) ([]token, error) {
	var toks []token
	var cur *token
	flush := func() {
		if cur != nil {
			toks = append(toks, *cur)
			cur = nil
		}
	}
	word := func() *token {
		if cur == nil {
			cur = &token{}
		}
		return cur
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '#' && cur == nil:
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case c == ' ' || c == '\t':
			flush()
			i++
			continue
		case c == '\'':
			j := strings.IndexByte(src[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated quote")
			}
			w := word()
			w.parts = append(w.parts, part{text: src[i+1 : i+1+j], quoted: true})
			i += j + 2
			continue
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(src) && src[j] != '"'; j++ {
				if src[j] == '\\' && j+1 < len(src) && strings.IndexByte("\"\\$`", src[j+1]) >= 0 {
					j++
					if src[j] == '$' {
						b.WriteString("\x00$") // an escaped dollar stays literal
						continue
					}
				}
				b.WriteByte(src[j])
			}
			if j == len(src) {
				return nil, errors.New("unterminated quote")
			}
			w := word()
			w.parts = append(w.parts, part{text: b.String(), dquote: true})
			i = j + 1
			continue
		case c == '\\' && i+1 < len(src):
			w := word()
			if src[i+1] != '\n' {
				w.parts = append(w.parts, part{text: src[i+1 : i+2], quoted: true})
			}
			i += 2
			continue
		}
		if op := matchOp(src[i:]); op != "" {
			// "2>" only at the start of a word.
			if (op[0] == '2' || op[0] == '1') && cur != nil {
				word().parts = append(word().parts, part{text: string(c)})
				i++
				continue
			}
			flush()
			if op == "\n" {
				op = ";"
			}
			toks = append(toks, token{text: op, op: true})
			i += len(matchOp(src[i:]))
			continue
		}
		j := i
		for j < len(src) && strings.IndexByte(" \t'\"\\;|&<>\n", src[j]) < 0 {
			j++
		}
		if j == i { // a lone & (background): run it in the foreground
			flush()
			i++
			continue
		}
		word().parts = append(word().parts, part{text: src[i:j]})
		i = j
	}
	flush()
	return toks, nil
}

func matchOp(s string) string {
	for _, op := range operators {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return ""
}

// expand turns a word into fields: variables expanded, unquoted
// expansions split on blanks.
func (p *proc) expand(t token) []string {
	var fields []string
	var cur strings.Builder
	have := false
	for _, pt := range t.parts {
		switch {
		case pt.quoted:
			cur.WriteString(pt.text)
			have = true
		case pt.dquote:
			cur.WriteString(p.vars(pt.text))
			have = true
		default:
			v := p.vars(pt.text)
			if v == pt.text || !strings.Contains(pt.text, "$") {
				cur.WriteString(v)
				have = have || v != ""
				continue
			}
			words := strings.Fields(v)
			for i, w := range words {
				if i > 0 || (len(v) > 0 && (v[0] == ' ' || v[0] == '\t') && have) {
					fields = append(fields, cur.String())
					cur.Reset()
				}
				cur.WriteString(w)
				have = true
			}
		}
	}
	if have || cur.Len() > 0 {
		fields = append(fields, cur.String())
	}
	return fields
}

// assignment reads NAME=value (NAME unquoted).
func (p *proc) assignment(t token) (string, string, bool) {
	if len(t.parts) == 0 || t.parts[0].quoted || t.parts[0].dquote {
		return "", "", false
	}
	name, rest, ok := strings.Cut(t.parts[0].text, "=")
	if !ok || name == "" {
		return "", "", false
	}
	for i, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return "", "", false
		}
	}
	parts := append([]part{{text: rest}}, t.parts[1:]...)
	return name, p.word(token{parts: parts}), true
}

// word is a word expanded without splitting (redirection targets).
func (p *proc) word(t token) string {
	return strings.Join(p.expand(t), " ")
}

// vars expands $NAME, ${NAME} and $? in s.
func (p *proc) vars(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0 && i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		rest := s[i+1:]
		switch {
		case rest[0] == '?':
			b.WriteString(strconv.Itoa(p.status))
			i++
		case rest[0] == '{':
			j := strings.IndexByte(rest, '}')
			if j < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(p.env[rest[1:j]])
			i += j + 1
		default:
			j := 0
			for j < len(rest) && (rest[j] == '_' || rest[j] >= 'a' && rest[j] <= 'z' || rest[j] >= 'A' && rest[j] <= 'Z' || j > 0 && rest[j] >= '0' && rest[j] <= '9') {
				j++
			}
			if j == 0 {
				b.WriteByte('$')
				continue
			}
			b.WriteString(p.env[rest[:j]])
			i += j
		}
	}
	return b.String()
}

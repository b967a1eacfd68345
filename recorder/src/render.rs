//! Bounded rendering of Erlang terms as Elixir's `inspect/1` would show them.
//!
//! It runs in the traced process (terms live on its heap), so its cost must be bounded by the
//! capture size, not by the term: output stops at the byte limit, lists and maps stop being
//! walked there, binaries are looked at only up to the limit, and nesting deeper than
//! [`MAX_DEPTH`] prints `…` (deep terms cannot overflow the scheduler's stack). Nothing is
//! allocated: output goes into the caller's buffer.
//!
//! Terms are seen through [`TermView`], implemented by the NIF for real terms and by tests
//! for a plain enum, so the rules here are tested by `cargo test`.

/// How a port, a reference and a fun print (their contents are not shown).
pub const PORT_TEXT: &str = "#Port<…>";
/// See [`PORT_TEXT`].
pub const REFERENCE_TEXT: &str = "#Reference<…>";
/// See [`PORT_TEXT`].
pub const FUNCTION_TEXT: &str = "#Function<…>";

/// Nesting depth beyond which a term prints as `…`.
pub const MAX_DEPTH: usize = 24;

/// What kind of term a [`TermView`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermKind {
    /// An atom.
    Atom,
    /// An integer that fits in i64.
    Int,
    /// An integer that does not fit in i64.
    BigInt,
    /// A float.
    Float,
    /// A binary (whole bytes).
    Binary,
    /// A bitstring that is not a whole number of bytes.
    Bitstring,
    /// The empty list.
    Nil,
    /// A list cell.
    Cons,
    /// A tuple.
    Tuple,
    /// A map.
    Map,
    /// A pid, port, reference or fun: printed by the runtime.
    Opaque,
}

/// Read access to a term, without allocation.
pub trait TermView<'a>: Copy {
    /// Its kind.
    fn kind(self) -> TermKind;
    /// Calls `f` with an atom's text (UTF-8); `None` if this is not an atom or its text
    /// cannot be read. A closure rather than a buffer: callers need no 1 KiB scratch space
    /// (zeroing it was a measurable share of rendering a message), and implementations can
    /// hand out cached text.
    fn with_atom<R>(self, f: impl FnOnce(&str) -> R) -> Option<R>;
    /// [`crate::msg_hash::atom_text_hash`] of an atom's text. Implementations may cache it
    /// by the atom's identity (the message hash takes one per atom in a message).
    fn atom_hash(self) -> Option<u32> {
        self.with_atom(|s| crate::msg_hash::atom_text_hash(s.as_bytes()))
    }
    /// Writes the atom as [`render`] shows it (`:ok`, `nil`, `Foo.Bar`, `:"a b"`); false
    /// (nothing written) if this is not an atom or its text cannot be read.
    /// Implementations may write a form cached by the atom's identity.
    fn push_atom(self, out: &mut Out<'_>) -> bool {
        self.with_atom(|s| atom_text(s, out)).is_some()
    }
    /// Writes `key: ` when this is an identifier atom (a keyword or map key shown that
    /// way); false (nothing written) otherwise. May be cached like [`Self::push_atom`].
    fn push_key(self, out: &mut Out<'_>) -> bool {
        self.with_atom(|s| {
            let ok = is_identifier(s);
            if ok {
                out.push_str(s);
                out.push_str(": ");
            }
            ok
        }) == Some(true)
    }
    /// An integer.
    fn int(self) -> Option<i64>;
    /// A float.
    fn float(self) -> Option<f64>;
    /// A binary's bytes.
    fn binary(self) -> Option<&'a [u8]>;
    /// A list cell's head and tail.
    fn cons(self) -> Option<(Self, Self)>;
    /// A tuple's arity.
    fn tuple_len(self) -> Option<usize>;
    /// A tuple's element `i` (0-based).
    fn tuple_get(self, i: usize) -> Option<Self>;
    /// Calls `f` on a tuple's elements in order until it returns false.
    fn tuple_each(self, mut f: impl FnMut(Self) -> bool) {
        for i in 0..self.tuple_len().unwrap_or(0) {
            match self.tuple_get(i) {
                Some(e) if f(e) => {}
                _ => return,
            }
        }
    }
    /// A pid's `<0.N.S>` numbers (a remote pid's too); `None` for anything else.
    fn pid(self) -> Option<(u32, u32)>;
    /// A reference's ID words (a remote reference's too), for the message hash; `None` for
    /// anything else, or where they cannot be read (the hash then takes the reference as
    /// it takes a port).
    fn reference(self) -> Option<crate::msg_hash::RefId> {
        None
    }
    /// A map's number of keys.
    fn map_size(self) -> Option<usize>;
    /// Calls `f` on map entries until it returns false.
    fn map_entries(self, f: &mut dyn FnMut(Self, Self) -> bool);
    /// The `__struct__` value of a map, when it is an atom.
    fn struct_name(self) -> Option<Self>;
    /// Writes how `inspect/1` shows a pid (`#PID<0.85.0>`) or big integer, or a placeholder
    /// for a port, reference, fun or bitstring (`#Reference<…>`).
    fn runtime(self, out: &mut Out<'_>);
}

/// A bounded output buffer.
#[derive(Debug)]
pub struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
    limit: usize,
    truncated: bool,
}

impl<'b> Out<'b> {
    /// Output into `buf`, at most `limit` bytes.
    pub fn new(buf: &'b mut [u8], limit: usize) -> Out<'b> {
        let limit = limit.min(buf.len());
        Out {
            buf,
            len: 0,
            limit,
            truncated: false,
        }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether output stopped at the limit.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The bytes written.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn full(&self) -> bool {
        self.truncated
    }

    /// Appends `s`, cut at the limit (on a UTF-8 boundary). Inlined: most pushes are
    /// punctuation of a length known where they are made, copied then without a call.
    #[inline(always)]
    pub fn push(&mut self, s: &[u8]) {
        if !self.truncated && s.len() <= self.limit - self.len {
            self.buf[self.len..self.len + s.len()].copy_from_slice(s);
            self.len += s.len();
        } else {
            self.push_cut(s);
        }
    }

    /// [`Self::push`] of what does not fit (or after the cut).
    #[cold]
    #[inline(never)]
    fn push_cut(&mut self, s: &[u8]) {
        if self.truncated {
            return;
        }
        // Cut on a UTF-8 boundary so text values stay valid.
        let room = self.limit - self.len;
        let mut cut = room;
        while cut > 0 && cut < s.len() && (s[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        self.buf[self.len..self.len + cut].copy_from_slice(&s[..cut]);
        self.len += cut;
        self.truncated = true;
    }

    /// Appends `s`.
    pub fn push_str(&mut self, s: &str) {
        self.push(s.as_bytes());
    }

    /// Appends `v` in decimal.
    pub fn push_int(&mut self, v: i64) {
        if v < 0 {
            self.push(b"-");
        }
        self.push_u64(v.unsigned_abs());
    }

    /// Appends a pid as `inspect/1` prints a local one: `#PID<0.N.S>`.
    pub fn push_pid(&mut self, (number, serial): (u32, u32)) {
        self.push_str("#PID<0.");
        self.push_u64(u64::from(number));
        self.push_str(".");
        self.push_u64(u64::from(serial));
        self.push_str(">");
    }

    /// Appends a pid of another node as `#PID<node.N.S>` (how trace files write such pids):
    /// the `<0.N.S>` of a local pid would show it as this node's, and the number the VM
    /// prints in its place (`<9123.N.S>`, the node's slot in this VM's table) means nothing
    /// off that VM.
    pub fn push_remote_pid(&mut self, node: &str, (number, serial): (u32, u32)) {
        self.push_str("#PID<");
        self.push_str(node);
        self.push_str(".");
        self.push_u64(u64::from(number));
        self.push_str(".");
        self.push_u64(u64::from(serial));
        self.push_str(">");
    }

    /// Appends an integer given as its sign and magnitude (little-endian bytes, as external
    /// term format holds a bignum's digits) in decimal: nine digits per pass of a long
    /// division by 10^9. Callers bound the magnitude (a bignum's decimal costs its size
    /// squared).
    pub fn push_big(&mut self, negative: bool, magnitude: &[u8]) {
        // 32-bit limbs, most significant first.
        let mut limbs: Vec<u32> = magnitude
            .chunks(4)
            .rev()
            .map(|c| c.iter().rev().fold(0u32, |v, &b| v << 8 | u32::from(b)))
            .collect();
        let mut groups: Vec<u32> = Vec::new(); // base 10^9, least significant first
        loop {
            while limbs.first() == Some(&0) {
                limbs.remove(0);
            }
            if limbs.is_empty() {
                break;
            }
            let mut rem = 0u64;
            for l in limbs.iter_mut() {
                let cur = rem << 32 | u64::from(*l);
                *l = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            groups.push(rem as u32);
        }
        if negative && !groups.is_empty() {
            self.push_str("-");
        }
        match groups.split_last() {
            None => self.push_str("0"),
            Some((top, rest)) => {
                self.push_u64(u64::from(*top));
                for g in rest.iter().rev() {
                    let text = format!("{g:09}");
                    self.push_str(&text);
                }
            }
        }
    }

    /// Appends `u` in decimal, two digits per division (integers are the commonest
    /// argument; a digit at a time was ~6 ns of a 7-digit one, measured by
    /// `bench/hot_path.sh`).
    pub fn push_u64(&mut self, mut u: u64) {
        const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
            2021222324252627282930313233343536373839\
            4041424344454647484950515253545556575859\
            6061626364656667686970717273747576777879\
            8081828384858687888990919293949596979899";
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        while u >= 100 {
            let pair = (u % 100) as usize * 2;
            u /= 100;
            i -= 2;
            tmp[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        }
        if u >= 10 {
            let pair = u as usize * 2;
            i -= 2;
            tmp[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        } else {
            i -= 1;
            tmp[i] = b'0' + u as u8;
        }
        self.push(&tmp[i..]);
    }
}

/// Renders `t` into `out`.
pub fn render<'a, T: TermView<'a> + 'a>(t: T, out: &mut Out<'_>) {
    term(t, out, 0);
}

/// Renders the elements of the list `t` separated by `", "` (call arguments), without
/// brackets. Each element is a term of its own: `{:work, 1}` stays a tuple (the argument
/// list is not a keyword list even when its elements look like one).
pub fn render_elements<'a, T: TermView<'a> + 'a>(t: T, out: &mut Out<'_>) {
    elements(t, out, 0, false);
}

fn term<'a, T: TermView<'a> + 'a>(t: T, out: &mut Out<'_>, depth: usize) {
    if out.full() {
        return;
    }
    if depth > MAX_DEPTH {
        out.push_str("…");
        return;
    }
    match t.kind() {
        TermKind::Atom => atom(t, out),
        TermKind::Int => out.push_int(t.int().unwrap_or(0)),
        TermKind::Float => {
            let f = t.float().unwrap_or(0.0);
            let mut tmp = [0u8; 40];
            let n = float_text(f, &mut tmp);
            out.push(&tmp[..n]);
        }
        TermKind::Binary => binary(t.binary().unwrap_or(&[]), out),
        TermKind::Nil => out.push_str("[]"),
        TermKind::Cons => list(t, out, depth),
        TermKind::Tuple => {
            out.push_str("{");
            let mut first = true;
            t.tuple_each(|e| {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                term(e, out, depth + 1);
                !out.full()
            });
            out.push_str("}");
        }
        TermKind::Map => map(t, out, depth),
        TermKind::Bitstring | TermKind::BigInt | TermKind::Opaque => t.runtime(out),
    }
}

/// Elixir's forms: `:ok`, `nil`, `Foo.Bar` for `Elixir.Foo.Bar`, `:"with space"`.
fn atom<'a, T: TermView<'a>>(t: T, out: &mut Out<'_>) {
    if !t.push_atom(out) {
        out.push_str(":\"?\"");
    }
}

pub(crate) fn atom_text(s: &str, out: &mut Out<'_>) {
    if matches!(s, "nil" | "true" | "false") {
        out.push_str(s);
    } else if let Some(alias) = s.strip_prefix("Elixir.") {
        out.push_str(alias);
    } else if is_identifier(s) {
        out.push_str(":");
        out.push_str(s);
    } else {
        out.push_str(":");
        quoted(s.as_bytes(), out);
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_@]*[?!]?`: atoms Elixir prints without quotes (`:ok`, `:EXIT`).
pub(crate) fn is_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    let Some((&first, rest)) = b.split_first() else {
        return false;
    };
    let body = match rest.last() {
        Some(b'?' | b'!') => &rest[..rest.len() - 1],
        _ => rest,
    };
    (first.is_ascii_alphabetic() || first == b'_')
        && body
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'@')
}

/// A printable UTF-8 binary as `"…"`, anything else as `<<1, 2, 3>>`.
fn binary(b: &[u8], out: &mut Out<'_>) {
    // Only the part that can be shown is examined: the cost is bounded by the output.
    let window = &b[..b.len().min(out.limit)];
    // Most binaries are printable ASCII with nothing to escape (names, paths, ids): one
    // pass over the bytes instead of UTF-8 validation, a walk of the chars and the escape
    // scan, with the same output.
    if window
        .iter()
        .all(|&c| (b' '..=b'~').contains(&c) && c != b'"' && c != b'\\')
    {
        out.push(b"\"");
        out.push(window);
        out.push(b"\"");
        if window.len() < b.len() {
            out.truncated = true;
        }
        return;
    }
    any_binary(b, out);
}

/// [`binary`] of any bytes.
fn any_binary(b: &[u8], out: &mut Out<'_>) {
    let window = &b[..b.len().min(out.limit)];
    let text = match std::str::from_utf8(window) {
        Ok(s) => Some(s),
        Err(e) if e.error_len().is_none() && window.len() < b.len() => {
            std::str::from_utf8(&window[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    match text.filter(|s| {
        s.chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
    }) {
        Some(s) => {
            quoted(s.as_bytes(), out);
            if window.len() < b.len() {
                out.truncated = true;
            }
        }
        None => {
            out.push_str("<<");
            for (i, byte) in b.iter().enumerate() {
                if out.full() {
                    return;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_int(i64::from(*byte));
            }
            out.push_str(">>");
        }
    }
}

fn quoted(s: &[u8], out: &mut Out<'_>) {
    out.push_str("\"");
    let mut start = 0;
    for (i, &c) in s.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\t' => b"\\t",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.push(&s[start..i]);
        out.push(esc);
        start = i + 1;
        if out.full() {
            return;
        }
    }
    out.push(&s[start..]);
    out.push_str("\"");
}

/// `[1, 2]`, keyword lists as `[a: 1, b: 2]`, improper lists as `[1 | 2]`, printable
/// charlists as `'text'` (as Elixir 1.14 prints them: file names in stacktraces, Erlang
/// strings).
fn list<'a, T: TermView<'a> + 'a>(t: T, out: &mut Out<'_>, depth: usize) {
    if is_charlist(t, out.limit.saturating_sub(out.len) + 1) {
        charlist(t, out);
        return;
    }
    out.push_str("[");
    let keywords = is_keyword(t, out.limit.saturating_sub(out.len) + 1);
    elements(t, out, depth, keywords);
    out.push_str("]");
}

/// Whether the proper list `t` is a keyword list as `inspect/1` sees one: every element a
/// pair whose first element is an identifier atom. Looks at most `max` cells, the output
/// room left (what lies beyond would be cut anyway).
fn is_keyword<'a, T: TermView<'a> + 'a>(t: T, max: usize) -> bool {
    let mut cur = t;
    for _ in 0..max {
        match cur.cons() {
            Some((h, tail)) => {
                let key = match (h.kind(), h.tuple_len()) {
                    (TermKind::Tuple, Some(2)) => h.tuple_get(0),
                    _ => None,
                };
                let ok = key.is_some_and(|k| {
                    k.kind() == TermKind::Atom && k.with_atom(is_identifier) == Some(true)
                });
                if !ok {
                    return false;
                }
                cur = tail;
            }
            None => return cur.kind() == TermKind::Nil,
        }
    }
    true
}

/// Whether the proper list `t` holds only printable ASCII (and `\n`, `\t`, `\r`). Looks
/// at most `max` cells, the output room left: a longer list of such characters is printed
/// as a charlist and cut at the limit like any other output.
fn is_charlist<'a, T: TermView<'a> + 'a>(t: T, max: usize) -> bool {
    let mut cur = t;
    for _ in 0..max {
        match cur.cons() {
            Some((h, tail)) => {
                if !h
                    .int()
                    .is_some_and(|c| (32..=126).contains(&c) || matches!(c, 9 | 10 | 13))
                {
                    return false;
                }
                cur = tail;
            }
            None => return cur.kind() == TermKind::Nil,
        }
    }
    true
}

/// A charlist `'text'`, escaping `'`, `\\` and control characters.
fn charlist<'a, T: TermView<'a> + 'a>(t: T, out: &mut Out<'_>) {
    out.push_str("'");
    let mut cur = t;
    while let Some((h, tail)) = cur.cons() {
        if out.full() {
            return;
        }
        let c = h.int().unwrap_or(b'?' as i64) as u8;
        match c {
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            _ => out.push(&[c]),
        }
        cur = tail;
    }
    out.push_str("'");
}

/// A list's elements, `", "`-separated (`{atom, v}` as `atom: v`), then ` | tail` if improper.
fn elements<'a, T: TermView<'a> + 'a>(t: T, out: &mut Out<'_>, depth: usize, keywords: bool) {
    let mut cur = t;
    let mut first = true;
    while let Some((h, tail)) = cur.cons() {
        if out.full() {
            return;
        }
        if !first {
            out.push_str(", ");
        }
        first = false;
        if !(keywords && keyword_pair(h, out, depth)) {
            term(h, out, depth + 1);
        }
        cur = tail;
    }
    if !matches!(cur.kind(), TermKind::Nil | TermKind::Cons) {
        out.push_str(" | ");
        term(cur, out, depth + 1);
    }
}

/// A `{atom, value}` element printed as `atom: value`; false when it is not one.
fn keyword_pair<'a, T: TermView<'a> + 'a>(h: T, out: &mut Out<'_>, depth: usize) -> bool {
    if h.kind() != TermKind::Tuple {
        return false;
    }
    match (h.tuple_len(), h.tuple_get(0), h.tuple_get(1)) {
        (Some(2), Some(k), Some(v)) if k.kind() == TermKind::Atom => key_value(k, v, out, depth),
        _ => false,
    }
}

/// Writes `key: value` when `k` is an identifier atom; false (nothing written) otherwise.
fn key_value<'a, T: TermView<'a> + 'a>(k: T, v: T, out: &mut Out<'_>, depth: usize) -> bool {
    let written = k.push_key(out);
    if written {
        term(v, out, depth + 1);
    }
    written
}

/// `%{a: 1, "k" => v}`, structs as `%Name{field: v}`.
fn map<'a, T: TermView<'a> + 'a>(t: T, out: &mut Out<'_>, depth: usize) {
    let name = t.struct_name();
    out.push_str("%");
    if let Some(n) = name {
        atom_alias(n, out);
    }
    out.push_str("{");
    let mut first = true;
    t.map_entries(&mut |k, v| {
        if out.full() {
            return false;
        }
        if name.is_some() && is_atom(k, "__struct__") {
            return true;
        }
        if !first {
            out.push_str(", ");
        }
        first = false;
        if !(k.kind() == TermKind::Atom && key_value(k, v, out, depth)) {
            term(k, out, depth + 1);
            out.push_str(" => ");
            term(v, out, depth + 1);
        }
        true
    });
    out.push_str("}");
}

/// A struct name: `Foo.Bar` for `Elixir.Foo.Bar`, else as an atom.
fn atom_alias<'a, T: TermView<'a>>(t: T, out: &mut Out<'_>) {
    let shown = t.with_atom(|s| match s.strip_prefix("Elixir.") {
        Some(alias) => out.push_str(alias),
        None => atom_text(s, out),
    });
    if shown.is_none() {
        out.push_str(":\"?\"");
    }
}

fn is_atom<'a, T: TermView<'a>>(t: T, text: &str) -> bool {
    t.kind() == TermKind::Atom && t.with_atom(|s| s == text) == Some(true)
}

/// Shortest text that reads back as `f`, with a `.0` for whole numbers (as Elixir prints).
fn float_text(f: f64, buf: &mut [u8; 40]) -> usize {
    use std::io::Write;
    let mut c = std::io::Cursor::new(&mut buf[..]);
    let _ = if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        write!(c, "{f:.1}")
    } else {
        write!(c, "{f:?}")
    };
    c.position() as usize
}

#[cfg(test)]
pub(crate) mod test_term {
    //! An owned term for testing the renderer without a VM.
    use super::*;

    #[derive(Debug, Clone)]
    pub enum T {
        Atom(&'static str),
        Int(i64),
        Float(f64),
        Bin(Vec<u8>),
        List(Vec<T>, Option<Box<T>>),
        Tuple(Vec<T>),
        Map(Vec<(T, T)>),
        Pid(u32, u32),
        /// A reference by its ID words (printed without them; none: not read, as the
        /// NIF's view gives when it cannot read them).
        Ref(Vec<u32>),
    }

    /// A view into a `T`, or into the tail of a list.
    #[derive(Clone, Copy, Debug)]
    pub enum V<'a> {
        Term(&'a T),
        Tail(&'a [T], Option<&'a T>),
    }

    impl<'a> TermView<'a> for V<'a> {
        fn kind(self) -> TermKind {
            match self {
                V::Tail([], None) => TermKind::Nil,
                V::Tail([], Some(t)) => V::Term(t).kind(),
                V::Tail(..) => TermKind::Cons,
                V::Term(t) => match t {
                    T::Atom(_) => TermKind::Atom,
                    T::Int(_) => TermKind::Int,
                    T::Float(_) => TermKind::Float,
                    T::Bin(_) => TermKind::Binary,
                    T::List(v, _) if v.is_empty() => TermKind::Nil,
                    T::List(..) => TermKind::Cons,
                    T::Tuple(_) => TermKind::Tuple,
                    T::Map(_) => TermKind::Map,
                    T::Pid(..) | T::Ref(_) => TermKind::Opaque,
                },
            }
        }
        fn with_atom<R>(self, f: impl FnOnce(&str) -> R) -> Option<R> {
            match self {
                V::Term(T::Atom(s)) => Some(f(s)),
                _ => None,
            }
        }
        fn int(self) -> Option<i64> {
            match self {
                V::Term(T::Int(i)) => Some(*i),
                _ => None,
            }
        }
        fn float(self) -> Option<f64> {
            match self {
                V::Term(T::Float(f)) => Some(*f),
                _ => None,
            }
        }
        fn binary(self) -> Option<&'a [u8]> {
            match self {
                V::Term(T::Bin(b)) => Some(b),
                _ => None,
            }
        }
        fn cons(self) -> Option<(Self, Self)> {
            match self {
                V::Term(T::List(v, tail)) => V::Tail(v, tail.as_deref()).cons(),
                V::Tail([h, rest @ ..], tail) => {
                    let next = match (rest, tail) {
                        ([], Some(t)) => V::Term(t),
                        _ => V::Tail(rest, tail),
                    };
                    Some((V::Term(h), next))
                }
                _ => None,
            }
        }
        fn tuple_len(self) -> Option<usize> {
            match self {
                V::Term(T::Tuple(v)) => Some(v.len()),
                _ => None,
            }
        }
        fn tuple_get(self, i: usize) -> Option<Self> {
            match self {
                V::Term(T::Tuple(v)) => v.get(i).map(V::Term),
                _ => None,
            }
        }
        fn map_size(self) -> Option<usize> {
            match self {
                V::Term(T::Map(m)) => Some(m.len()),
                _ => None,
            }
        }
        fn map_entries(self, f: &mut dyn FnMut(Self, Self) -> bool) {
            if let V::Term(T::Map(m)) = self {
                for (k, v) in m {
                    if !f(V::Term(k), V::Term(v)) {
                        return;
                    }
                }
            }
        }
        /// The value of the `:__struct__` key (the first, should a test map repeat it), if an
        /// atom: as the NIF's lookup of the key finds it.
        fn struct_name(self) -> Option<Self> {
            match self {
                V::Term(T::Map(m)) => m
                    .iter()
                    .find(|(k, _)| matches!(k, T::Atom("__struct__")))
                    .and_then(|(_, v)| matches!(v, T::Atom(_)).then_some(V::Term(v))),
                _ => None,
            }
        }
        fn pid(self) -> Option<(u32, u32)> {
            match self {
                V::Term(T::Pid(n, s)) => Some((*n, *s)),
                _ => None,
            }
        }
        fn reference(self) -> Option<crate::msg_hash::RefId> {
            match self {
                V::Term(T::Ref(w)) => crate::msg_hash::RefId::new(w),
                _ => None,
            }
        }
        fn runtime(self, out: &mut Out<'_>) {
            match self {
                V::Term(T::Pid(n, s)) => out.push_pid((*n, *s)),
                V::Term(T::Ref(_)) => out.push_str(REFERENCE_TEXT),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_term::{T, V};
    use super::*;

    #[test]
    fn big_integers_render_in_decimal() {
        let show = |negative: bool, magnitude: &[u8]| {
            let mut buf = vec![0u8; 4096];
            let mut out = Out::new(&mut buf, 4096);
            out.push_big(negative, magnitude);
            String::from_utf8(out.bytes().to_vec()).unwrap()
        };
        let mut x: u128 = 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834;
        for _ in 0..200 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for v in [x, x >> 64, x >> 100, x & 0xFFFF_FFFF_FFFF] {
                let bytes = v.to_le_bytes();
                assert_eq!(show(false, &bytes), v.to_string());
                assert_eq!(
                    show(true, &bytes),
                    if v == 0 { "0".into() } else { format!("-{v}") }
                );
            }
        }
        // Wider than 128 bits: 2^200 = 1606938044258990275541962092341162602522202993782792835301376.
        let mut two_200 = vec![0u8; 26];
        two_200[25] = 1;
        assert_eq!(
            show(false, &two_200),
            "1606938044258990275541962092341162602522202993782792835301376"
        );
    }

    fn show(t: &T, limit: usize) -> (String, bool) {
        let mut buf = vec![0u8; 4096];
        let mut out = Out::new(&mut buf, limit);
        render(V::Term(t), &mut out);
        (
            String::from_utf8(out.bytes().to_vec()).unwrap(),
            out.truncated(),
        )
    }

    fn list(v: Vec<T>) -> T {
        T::List(v, None)
    }

    #[test]
    fn printable_ascii_binaries_take_the_short_way_to_the_same_text() {
        let cases: [&[u8]; 10] = [
            b"",
            b"https",
            b"/path/to/resource?query=1&b=2",
            b"say \"hi\"",
            b"back\\slash",
            b"tab\there",
            "caf\u{e9} \u{2603}".as_bytes(),
            b"\xff\xfe",
            b"~ and DEL \x7f",
            b"0123456789abcdefghijklmnopqrstuvwxyz",
        ];
        for b in cases {
            for limit in [0, 1, 2, 5, 8, 30, 256] {
                let run = |f: fn(&[u8], &mut Out<'_>)| {
                    let mut buf = vec![0u8; 512];
                    let mut out = Out::new(&mut buf, limit);
                    f(b, &mut out);
                    (out.bytes().to_vec(), out.truncated())
                };
                assert_eq!(run(binary), run(any_binary), "{b:?} within {limit}");
            }
        }
    }

    #[test]
    fn terms_print_as_elixir_inspect_shows_them() {
        let cases = [
            (T::Atom("ok"), ":ok"),
            (T::Atom("nil"), "nil"),
            (T::Atom("Elixir.MyApp.Worker"), "MyApp.Worker"),
            (T::Atom("with space"), ":\"with space\""),
            (T::Atom("valid?"), ":valid?"),
            (T::Atom("EXIT"), ":EXIT"),
            (T::Int(-42), "-42"),
            (T::Float(1.0), "1.0"),
            (T::Float(0.1), "0.1"),
            (T::Bin(b"hi \"you\"\n".to_vec()), "\"hi \\\"you\\\"\\n\""),
            (T::Bin(vec![0, 255]), "<<0, 255>>"),
            (list(vec![]), "[]"),
            (list(vec![T::Int(1), T::Int(2)]), "[1, 2]"),
            (
                list(b"lib/a.ex".iter().map(|&c| T::Int(c.into())).collect()),
                "'lib/a.ex'",
            ),
            (
                list(b"it's\n".iter().map(|&c| T::Int(c.into())).collect()),
                "'it\\'s\\n'",
            ),
            (
                list(vec![T::Int(104), T::Int(105), T::Int(1)]),
                "[104, 105, 1]",
            ),
            (
                T::List(vec![T::Int(1)], Some(Box::new(T::Int(2)))),
                "[1 | 2]",
            ),
            (
                list(vec![T::Tuple(vec![T::Atom("a"), T::Int(1)])]),
                "[a: 1]",
            ),
            (
                // Not every element is a pair: a list of tuples, as inspect/1 shows it.
                list(vec![
                    T::Tuple(vec![T::Atom("deposit"), T::Int(100)]),
                    T::Atom("opened"),
                ]),
                "[{:deposit, 100}, :opened]",
            ),
            (
                list(vec![T::Tuple(vec![T::Atom("a b"), T::Int(1)])]),
                "[{:\"a b\", 1}]",
            ),
            (
                T::Tuple(vec![T::Atom("ok"), T::Pid(85, 0)]),
                "{:ok, #PID<0.85.0>}",
            ),
            (
                T::Map(vec![
                    (T::Atom("a"), T::Int(1)),
                    (T::Bin(b"k".to_vec()), T::Atom("v")),
                ]),
                "%{a: 1, \"k\" => :v}",
            ),
            (
                T::Map(vec![
                    (T::Atom("__struct__"), T::Atom("Elixir.User")),
                    (T::Atom("name"), T::Bin(b"Ann".to_vec())),
                ]),
                "%User{name: \"Ann\"}",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(show(&t, 1000), (want.to_string(), false), "{t:?}");
        }
    }

    #[test]
    fn output_stops_at_the_limit_and_says_so() {
        let big = list((0..100_000).map(T::Int).collect());
        let (s, truncated) = show(&big, 20);
        assert_eq!(s, "[0, 1, 2, 3, 4, 5, 6");
        assert!(truncated);
        let text = T::Bin("é".repeat(1000).into_bytes());
        let (s, truncated) = show(&text, 8);
        assert!(truncated);
        assert_eq!(s, "\"ééé", "cut on a character boundary");
    }

    #[test]
    fn a_huge_binary_is_only_examined_up_to_the_limit() {
        // A 10 MB binary whose only non-printable byte is at the end: rendering 32 bytes
        // must not look there (it prints as text, truncated).
        let mut b = vec![b'a'; 10_000_000];
        *b.last_mut().unwrap() = 0;
        let (s, truncated) = show(&T::Bin(b), 32);
        assert!(s.starts_with("\"aaaa"));
        assert!(truncated);
    }

    #[test]
    fn deep_nesting_prints_an_ellipsis_instead_of_recursing() {
        let mut t = T::Int(1);
        for _ in 0..10_000 {
            t = T::Tuple(vec![t]);
        }
        let (s, _) = show(&t, 4096);
        assert!(s.contains('…'));
        assert_eq!(s.matches('{').count(), MAX_DEPTH + 1);
        std::mem::forget(t); // dropping 10k nested boxes recursively is the test harness's problem
    }

    #[test]
    fn integers_print_as_decimal() {
        let mut cases: Vec<i64> =
            vec![0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, i64::MAX, i64::MIN];
        let mut p = 1i64;
        while let Some(next) = p.checked_mul(10) {
            cases.extend([p - 1, p, p + 1, -p, next / 7]);
            p = next;
        }
        for v in cases {
            let mut buf = [0u8; 32];
            let mut out = Out::new(&mut buf, 32);
            out.push_int(v);
            let n = out.len();
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), v.to_string());
        }
        let mut buf = [0u8; 32];
        let mut out = Out::new(&mut buf, 32);
        out.push_u64(u64::MAX);
        let n = out.len();
        assert_eq!(&buf[..n], u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn call_arguments_print_without_brackets() {
        let args = list(vec![T::Atom("get"), T::Int(7)]);
        let mut buf = [0u8; 100];
        let mut out = Out::new(&mut buf, 100);
        render_elements(V::Term(&args), &mut out);
        assert_eq!(out.bytes(), b":get, 7");

        let args = list(vec![T::Tuple(vec![T::Atom("work"), T::Int(1)]), T::Int(0)]);
        let mut buf = [0u8; 100];
        let mut out = Out::new(&mut buf, 100);
        render_elements(V::Term(&args), &mut out);
        assert_eq!(out.bytes(), b"{:work, 1}, 0");
    }
}

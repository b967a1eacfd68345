//! GenServer state from captured callback returns: `init/1` answers `{:ok, state}`,
//! `handle_call/3` `{:reply, reply, state}`, `handle_cast/2`, `handle_info/2` and
//! `handle_continue/2` `{:noreply, state}` (each optionally with a timeout or
//! `{:continue, …}`), and any of them `{:stop, reason, state}` or
//! `{:stop, reason, reply, state}`. The state is the element at the position the tag
//! fixes, cut out of the captured text without parsing it further; two states are compared
//! key by key when they are maps or structs ([`diff`]). A `gen_statem`'s state is its
//! state name and data, from the shapes its callbacks return ([`statem_state_of`]).

use serde::Serialize;

/// The state in a callback's captured return value, when the text is a whole (untruncated)
/// return tuple of a known shape.
pub fn state_of(returned: &str) -> Option<&str> {
    let elems = tuple_elements(returned.trim())?;
    let at = match (elems.first()?.trim(), elems.len()) {
        (":ok", 2 | 3) | (":noreply", 2 | 3) => 1,
        (":reply", 3 | 4) | (":stop", 3) => 2,
        (":stop", 4) => 3,
        _ => return None,
    };
    Some(elems[at].trim())
}

impl Change {
    /// For people: `count: 1 → 2`, `+ key: v`, `- key: v`, or `was X` for a whole-state
    /// change; values cut to `max` characters.
    pub fn describe(&self, max: usize) -> String {
        let v = |s: &Option<String>| crate::units::clip(s.as_deref().unwrap_or(""), max);
        match (&self.key, &self.before, &self.after) {
            (Some(k), Some(_), Some(_)) => {
                format!("{k}: {} → {}", v(&self.before), v(&self.after))
            }
            (Some(k), None, _) => format!("+ {k}: {}", v(&self.after)),
            (Some(k), _, None) => format!("- {k}: {}", v(&self.before)),
            (None, _, _) => format!("was {}", v(&self.before)),
        }
    }
}

/// The module of a `gen_statem` whose `callback_mode/0` this call is (gen_statem asks its
/// callback module for it when the process starts): `Door` for `Door.callback_mode/0`.
pub fn statem_module(mfa: &str) -> Option<&str> {
    mfa.strip_suffix(".callback_mode/0")
}

/// A `gen_statem`'s (state, data) after a callback returned `returned`, given the state
/// before (`keep_state` and `repeat_state` keep it): `init/1`'s `{:ok, s, d}` (with
/// actions), `{:next_state, s, d}`, `{:keep_state, d}`, `{:repeat_state, d}`,
/// `{:stop, reason, d}`, `{:stop_and_reply, reason, replies, d}`. `None` for anything else
/// (`:keep_state_and_data` changes nothing) or a cut capture.
pub fn statem_state_of(returned: &str, before: Option<&str>) -> Option<(String, String)> {
    let elems = tuple_elements(returned.trim())?;
    let e = |i: usize| elems[i].trim().to_string();
    match (elems.first()?.trim(), elems.len()) {
        (":ok" | ":next_state", 3 | 4) => Some((e(1), e(2))),
        (":keep_state" | ":repeat_state", 2 | 3) => Some((before?.to_string(), e(1))),
        (":stop", 3) => Some((before?.to_string(), e(2))),
        (":stop_and_reply", 4) => Some((before?.to_string(), e(3))),
        _ => None,
    }
}

/// A `gen_statem`'s state as the replay shows it: `{state, data}`.
pub fn statem_text(state: &str, data: &str) -> String {
    format!("{{{state}, {data}}}")
}

/// What changed between two `gen_statem` states: `state`, and the data key by key when it
/// is a map (`data.count`).
pub fn statem_diff(before: (&str, &str), after: (&str, &str)) -> Vec<Change> {
    let mut out = Vec::new();
    if before.0 != after.0 {
        out.push(Change {
            key: Some("state".into()),
            before: Some(before.0.to_string()),
            after: Some(after.0.to_string()),
        });
    }
    if before.1 != after.1 {
        match (map_entries(before.1), map_entries(after.1)) {
            (Some((nb, b)), Some((na, a))) if nb == na => diff_entries("data", &b, &a, &mut out),
            _ => out.push(Change {
                key: Some("data".into()),
                before: Some(before.1.to_string()),
                after: Some(after.1.to_string()),
            }),
        }
    }
    out
}

/// Callbacks a GenServer runs once per message taken from its mailbox.
const MESSAGE_CALLBACKS: [&str; 3] = [".handle_call/3", ".handle_cast/2", ".handle_info/2"];

/// Whether `mfa` (as `Module.fun/arity`) is run once per message (mailbox accounting).
pub fn is_message_callback(mfa: &str) -> bool {
    MESSAGE_CALLBACKS.iter().any(|s| mfa.ends_with(s))
}

/// Whether `mfa` (as `Module.fun/arity`) is a callback whose return carries the state.
pub fn is_state_callback(mfa: &str) -> bool {
    is_message_callback(mfa) || mfa.ends_with(".init/1") || mfa.ends_with(".handle_continue/2")
}

/// One difference between two states.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The map or struct key that changed (`count`, `"name"`); `None` when the states are
    /// not maps of one shape and the whole state changed.
    pub key: Option<String>,
    /// Its value before (`None`: the key was added).
    pub before: Option<String>,
    /// Its value after (`None`: the key was removed).
    pub after: Option<String>,
}

/// What changed from state `before` to state `after` (both as captured text): per key when
/// both are maps (or the same struct), nested maps key by key (`balances.acct_1`), else the
/// whole state; empty when nothing changed.
pub fn diff(before: &str, after: &str) -> Vec<Change> {
    if before == after {
        return Vec::new();
    }
    let whole = || {
        vec![Change {
            key: None,
            before: Some(before.to_string()),
            after: Some(after.to_string()),
        }]
    };
    let (Some((name_b, b)), Some((name_a, a))) = (map_entries(before), map_entries(after)) else {
        return whole();
    };
    if name_b != name_a {
        return whole();
    }
    let mut out = Vec::new();
    diff_entries("", &b, &a, &mut out);
    out
}

/// Per key; a key whose value is a map (or the same struct) on both sides is compared
/// inside, as `outer.inner`.
fn diff_entries(prefix: &str, b: &[(&str, &str)], a: &[(&str, &str)], out: &mut Vec<Change>) {
    let path = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    for &(k, v) in a {
        match b.iter().find(|(kb, _)| *kb == k) {
            Some(&(_, vb)) if vb == v => {}
            Some(&(_, vb)) => match (map_entries(vb), map_entries(v)) {
                (Some((nb, inner_b)), Some((na, inner_a))) if nb == na => {
                    diff_entries(&path(k), &inner_b, &inner_a, out);
                }
                _ => out.push(Change {
                    key: Some(path(k)),
                    before: Some(vb.to_string()),
                    after: Some(v.to_string()),
                }),
            },
            None => out.push(Change {
                key: Some(path(k)),
                before: None,
                after: Some(v.to_string()),
            }),
        }
    }
    for &(k, v) in b {
        if !a.iter().any(|(ka, _)| *ka == k) {
            out.push(Change {
                key: Some(path(k)),
                before: Some(v.to_string()),
                after: None,
            });
        }
    }
}

/// A map's or struct's text `%{a: 1, "b" => 2}` / `%Mod{a: 1}` as (`%{` or `%Mod{`, its
/// key-value pairs); `None` when it is not one whole map.
fn map_entries(s: &str) -> Option<(&str, Vec<(&str, &str)>)> {
    let s = s.trim();
    let open = s.find('{')?;
    let name = &s[..=open];
    if !name.starts_with('%') || name[1..open].contains(|c: char| c.is_whitespace()) {
        return None;
    }
    let inner = s[open + 1..].strip_suffix('}')?;
    if inner.trim().is_empty() {
        return Some((name, Vec::new()));
    }
    let mut pairs = Vec::new();
    for e in split_top(inner)? {
        let e = e.trim();
        pairs.push(key_value(e)?);
    }
    Some((name, pairs))
}

/// `k => v`, `key: v` or `"quoted key": v` split at its top-level separator.
fn key_value(e: &str) -> Option<(&str, &str)> {
    if let Some(at) = top_level_find(e, " => ") {
        return Some((e[..at].trim(), e[at + 4..].trim()));
    }
    let key_end = if e.starts_with('"') {
        let b = e.as_bytes();
        let mut i = 1;
        while i < b.len() && b[i] != b'"' {
            i += if b[i] == b'\\' { 2 } else { 1 };
        }
        i + 1
    } else {
        e.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '?' || c == '!'))?
    };
    let rest = e.get(key_end..)?.strip_prefix(": ")?;
    Some((&e[..key_end], rest.trim()))
}

/// The byte offset of `pat` outside any brackets or quotes.
fn top_level_find(s: &str, pat: &str) -> Option<usize> {
    let mut found = None;
    scan(s, |i, depth| {
        if depth == 0 && found.is_none() && s.as_bytes()[i..].starts_with(pat.as_bytes()) {
            found = Some(i);
        }
    })?;
    found
}

/// The top-level elements of a tuple's text `{a, b, c}`; `None` when the text is not one
/// whole tuple (a truncated capture, say).
fn tuple_elements(s: &str) -> Option<Vec<&str>> {
    split_top(s.strip_prefix('{')?.strip_suffix('}')?)
}

/// `inner` split at its top-level commas; `None` when brackets or quotes do not balance
/// (a truncated capture).
fn split_top(inner: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut start = 0;
    scan(inner, |i, depth| {
        if depth == 0 && inner.as_bytes()[i] == b',' {
            out.push(&inner[start..i]);
            start = i + 1;
        }
    })?;
    out.push(&inner[start..]);
    Some(out)
}

/// Walks `inner` calling `at(offset, depth)` for every byte outside strings; `None` when
/// brackets or quotes do not balance or the text was cut (`…`).
fn scan(inner: &str, mut at: impl FnMut(usize, i32)) -> Option<()> {
    let b = inner.as_bytes();
    let (mut depth, mut i) = (0i32, 0usize);
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => {
                // Skip a string or charlist, honouring backslash escapes.
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                if i >= b.len() {
                    return None;
                }
            }
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            b'<' if b.get(i + 1) == Some(&b'<') => {
                depth += 1;
                i += 1;
            }
            b'>' if b.get(i + 1) == Some(&b'>') && depth > 0 => {
                depth -= 1;
                i += 1;
            }
            _ => at(i, depth),
        }
        i += 1;
    }
    if depth != 0 || inner.ends_with('…') {
        return None;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_found_by_the_return_shape() {
        let cases = [
            ("{:ok, 0}", Some("0")),
            (
                "{:reply, :ok, %{count: 1, names: [\"a, b\"]}}",
                Some("%{count: 1, names: [\"a, b\"]}"),
            ),
            ("{:reply, {:ok, 2}, {1, 2}, 5000}", Some("{1, 2}")),
            ("{:noreply, [1, 2]}", Some("[1, 2]")),
            (
                "{:noreply, %S{a: 'x,y'}, {:continue, :more}}",
                Some("%S{a: 'x,y'}"),
            ),
            ("{:stop, :normal, %{}}", Some("%{}")),
            ("{:stop, :normal, :bye, <<1, 2>>}", Some("<<1, 2>>")),
            ("{:reply, :ok, %{long: \"abc…", None),
            ("{:error, :nope}", None),
            (":ignore", None),
        ];
        for (text, want) in cases {
            assert_eq!(state_of(text), want, "{text}");
        }
    }

    #[test]
    fn states_diff_by_key_when_maps() {
        let ch = |k: Option<&str>, b: Option<&str>, a: Option<&str>| Change {
            key: k.map(str::to_string),
            before: b.map(str::to_string),
            after: a.map(str::to_string),
        };
        assert_eq!(
            diff(
                "%{count: 1, names: [\"a, b\"], gone: :x}",
                "%{count: 2, names: [\"a, b\"], \"new key\" => {1, 2}}"
            ),
            vec![
                ch(Some("count"), Some("1"), Some("2")),
                ch(Some("\"new key\""), None, Some("{1, 2}")),
                ch(Some("gone"), Some(":x"), None),
            ]
        );
        assert_eq!(
            diff("%S{a: %{b: 1, c: 2}}", "%S{a: %{b: 2, c: 2}}"),
            vec![ch(Some("a.b"), Some("1"), Some("2"))]
        );
        assert_eq!(
            diff("%{a: %{b: 1}}", "%{a: [1]}"),
            vec![ch(Some("a"), Some("%{b: 1}"), Some("[1]"))]
        );
        assert_eq!(diff("%{a: 1}", "%{a: 1}"), vec![]);
        assert_eq!(
            diff("%A{x: 1}", "%B{x: 1}"),
            vec![ch(None, Some("%A{x: 1}"), Some("%B{x: 1}"))]
        );
        assert_eq!(diff("0", "1"), vec![ch(None, Some("0"), Some("1"))]);
        // Multi-byte characters anywhere (atoms, strings) are stepped over, not split.
        assert_eq!(
            diff("%{mode: Café, n: \"é => ü\"}", "%{mode: Café, n: 2}"),
            vec![ch(Some("n"), Some("\"é => ü\""), Some("2"))]
        );
        assert_eq!(
            diff("%{a: 1, b: \"lo…", "%{a: 2}"),
            vec![ch(None, Some("%{a: 1, b: \"lo…"), Some("%{a: 2}"))]
        );
    }

    #[test]
    fn a_statem_state_is_its_state_name_and_data() {
        let st = |r: &str, b: Option<&str>| statem_state_of(r, b);
        let pair = |s: &str, d: &str| Some((s.to_string(), d.to_string()));
        assert_eq!(
            st("{:ok, :locked, %{code: 1}}", None),
            pair(":locked", "%{code: 1}")
        );
        assert_eq!(
            st(
                "{:next_state, :open, %{code: 1}, [{:reply, x, :ok}]}",
                Some(":locked")
            ),
            pair(":open", "%{code: 1}")
        );
        assert_eq!(
            st("{:keep_state, %{n: 2}}", Some(":open")),
            pair(":open", "%{n: 2}")
        );
        assert_eq!(st("{:keep_state, %{n: 2}}", None), None);
        assert_eq!(st(":keep_state_and_data", Some(":open")), None);
        assert_eq!(st("{:stop, :normal, 5}", Some(":open")), pair(":open", "5"));
        assert_eq!(
            statem_diff(
                (":locked", "%{tries: 0, code: 1}"),
                (":open", "%{tries: 1, code: 1}")
            ),
            vec![
                Change {
                    key: Some("state".into()),
                    before: Some(":locked".into()),
                    after: Some(":open".into())
                },
                Change {
                    key: Some("data.tries".into()),
                    before: Some("0".into()),
                    after: Some("1".into())
                },
            ]
        );
    }

    #[test]
    fn state_callbacks_are_recognised() {
        assert!(is_state_callback("MyApp.Counter.handle_call/3"));
        assert!(is_state_callback(":gen_statem_like.init/1"));
        assert!(!is_state_callback("MyApp.Counter.handle_call/2"));
    }
}

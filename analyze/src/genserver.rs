//! GenServer state from captured callback returns: `init/1` answers `{:ok, state}`,
//! `handle_call/3` `{:reply, reply, state}`, `handle_cast/2`, `handle_info/2` and
//! `handle_continue/2` `{:noreply, state}` (each optionally with a timeout or
//! `{:continue, …}`), and any of them `{:stop, reason, state}` or
//! `{:stop, reason, reply, state}`. The state is the element at the position the tag
//! fixes, cut out of the captured text without parsing it further.

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

/// The top-level elements of a tuple's text `{a, b, c}`; `None` when the text is not one
/// whole tuple (a truncated capture, say).
fn tuple_elements(s: &str) -> Option<Vec<&str>> {
    let inner = s.strip_prefix('{')?.strip_suffix('}')?;
    let b = inner.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut start, mut i) = (0i32, 0usize, 0usize);
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
            b',' if depth == 0 => {
                out.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if depth != 0 || inner.ends_with('…') {
        return None;
    }
    out.push(&inner[start..]);
    Some(out)
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
    fn state_callbacks_are_recognised() {
        assert!(is_state_callback("MyApp.Counter.handle_call/3"));
        assert!(is_state_callback(":gen_statem_like.init/1"));
        assert!(!is_state_callback("MyApp.Counter.handle_call/2"));
    }
}

//! Runs of one node name recorded by different VMs are told apart (`name#2`); runs of one VM
//! are not.

use std::path::Path;

use scope_format::{ClockAnchor, Event, Kind, Pid, Trace, TraceWriter, WriterConfig};

const T0: i64 = 1_795_424_400_000_000_000; // 2026-11-23T09:00:00Z

/// The first VM, recording from 1 s of its monotonic time.
fn vm1() -> ClockAnchor {
    ClockAnchor {
        mono_ns: 1_000_000_000,
        system_ns: T0,
    }
}

/// The first VM again, 20 s later (its monotonic clock ran on).
fn vm1_later() -> ClockAnchor {
    ClockAnchor {
        mono_ns: 21_000_000_000,
        system_ns: T0 + 20_000_000_000,
    }
}

/// A second VM, started 10 s after the first: its monotonic time is elsewhere.
fn vm2() -> ClockAnchor {
    ClockAnchor {
        mono_ns: 5_000_000_000,
        system_ns: T0 + 10_000_000_000,
    }
}

/// Writes one run of `app@host` (`run`, clock, `vm=` setting if any): one spawned event of
/// `<0.100.0>` with `n` in its numbers.
fn run(dir: &Path, run: u64, clock: fn() -> ClockAnchor, vm: Option<&str>, n: i64) {
    let mut c = WriterConfig::new(dir, "app@host");
    c.run_id = run;
    c.clock = clock;
    c.settings = vm.map(|v| ("vm".into(), v.into())).into_iter().collect();
    let mut w = TraceWriter::create(c).unwrap();
    let mut e = Event::new(clock().mono_ns + 1000, 0, Kind::Spawned, Pid::local(100, 0));
    e.nums[0] = n;
    w.push(&e).unwrap();
    w.close().unwrap();
}

/// Each run's `n` with the node label its event was read under.
fn labels(dir: &Path) -> Vec<(i64, String)> {
    let trace = Trace::open(&[dir]).unwrap();
    let mut v: Vec<_> = trace
        .events()
        .map(|e| (e.event.nums[0], e.node.to_string()))
        .collect();
    v.sort();
    v
}

fn want() -> Vec<(i64, String)> {
    vec![
        (1, "app@host".into()),
        (2, "app@host#2".into()),
        (3, "app@host".into()),
    ]
}

#[test]
fn a_second_vm_of_one_name_gets_its_own_label_by_its_vm_setting() {
    let dir = tempfile::tempdir().unwrap();
    // The `vm=` settings decide, whatever the anchors say: the third run names the first VM.
    run(dir.path(), 1, vm1, Some("4242@-576460751"), 1);
    run(dir.path(), 2, vm1_later, Some("4300@-576460752"), 2);
    run(dir.path(), 3, vm2, Some("4242@-576460751"), 3);
    assert_eq!(labels(dir.path()), want());
}

#[test]
fn without_vm_settings_the_clock_anchors_tell_vms_apart() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), 1, vm1, None, 1);
    run(dir.path(), 2, vm2, None, 2);
    run(dir.path(), 3, vm1_later, None, 3);
    assert_eq!(labels(dir.path()), want());
}

#[test]
fn one_vm_recording_twice_keeps_its_name() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), 1, vm1, Some("4242@-576460751"), 1);
    run(dir.path(), 2, vm1_later, Some("4242@-576460751"), 2);
    let got = labels(dir.path());
    assert!(got.iter().all(|(_, node)| node == "app@host"), "{got:?}");
}

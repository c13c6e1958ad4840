//! A linearizability checker: the Wing–Gong algorithm with Lowe's memoization (as in
//! Knossos's `wgl` and porcupine), over any sequential model.
//!
//! Each operation is a call and, if it completed `ok`, a return; an operation whose outcome
//! is unknown has no return, so it may take effect at any point after its call or never.
//! The search walks the calls in time order and tries to linearize each one as early as
//! possible; a return it reaches before its operation was linearized means the choices so
//! far are wrong, so it backtracks. A state (set of linearized operations, model state)
//! already explored is not explored again, which keeps the search polynomial on the
//! histories clients produce. The search is bounded by a step budget; a history it cannot
//! decide within it is reported as such, never as valid.

use std::collections::HashSet;
use std::hash::Hash;

/// A sequential specification.
pub trait Model: Clone + Eq + Hash {
    type Op;
    /// The state after `op`, or `None` if `op` (with what it returned) cannot happen in
    /// this state.
    fn step(&self, op: &Self::Op) -> Option<Self>;
}

/// One operation of the history: when it was invoked and when it returned (event indexes,
/// or any totally ordered times), with its input and output in `op`.
#[derive(Clone, Debug)]
pub struct Call<O> {
    pub op: O,
    pub call: usize,
    /// `None`: the outcome is unknown (it may never have taken effect).
    pub ret: Option<usize>,
}

/// What the checker found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Linearizable,
    /// No order exists. `stuck` is the operation (an index into the calls) whose return the
    /// deepest attempt could not get past, after linearizing `longest` operations.
    NotLinearizable {
        stuck: usize,
        longest: usize,
    },
    /// The step budget ran out first.
    Undecided {
        steps: u64,
    },
}

const NIL: usize = usize::MAX;

#[derive(Clone, Copy)]
struct Entry {
    op: usize,
    is_call: bool,
    /// The return entry of a call (NIL for an unknown outcome).
    ret: usize,
}

/// Checks `calls` against `init` with at most `budget` search steps.
pub fn check<M: Model>(init: M, calls: &[Call<M::Op>], budget: u64) -> Outcome {
    // Entries in time order; `HEAD` is a sentinel before the first.
    let mut timed: Vec<(usize, usize, bool)> = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        timed.push((c.call, i, true));
        if let Some(r) = c.ret {
            timed.push((r, i, false));
        }
    }
    timed.sort_unstable();
    let n = timed.len();
    let head = n;
    let mut ret_entry = vec![NIL; calls.len()];
    for (e, &(_, op, is_call)) in timed.iter().enumerate() {
        if !is_call {
            ret_entry[op] = e;
        }
    }
    let entries: Vec<Entry> = timed
        .iter()
        .map(|&(_, op, is_call)| Entry {
            op,
            is_call,
            ret: ret_entry[op],
        })
        .collect();
    let mut next: Vec<usize> = (1..=n).map(|i| if i == n { NIL } else { i }).collect();
    next.push(if n == 0 { NIL } else { 0 });
    let mut prev: Vec<usize> = (0..n).map(|i| if i == 0 { head } else { i - 1 }).collect();
    prev.push(NIL);

    let unlink = |x: usize, next: &mut Vec<usize>, prev: &mut Vec<usize>| {
        let (p, q) = (prev[x], next[x]);
        next[p] = q;
        if q != NIL {
            prev[q] = p;
        }
    };
    let relink = |x: usize, next: &mut Vec<usize>, prev: &mut Vec<usize>| {
        let (p, q) = (prev[x], next[x]);
        next[p] = x;
        if q != NIL {
            prev[q] = x;
        }
    };

    let mut remaining_ok = calls.iter().filter(|c| c.ret.is_some()).count();
    let words = calls.len().div_ceil(64).max(1);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, M)> = HashSet::new();
    let mut stack: Vec<(usize, M)> = Vec::new();
    let mut state = init;
    let mut entry = next[head];
    let mut steps = 0u64;
    let mut deepest = (0usize, NIL);
    while remaining_ok > 0 {
        steps += 1;
        if steps > budget {
            return Outcome::Undecided { steps: budget };
        }
        if entry == NIL {
            // Only calls of unknown outcome lie ahead, none fits: backtrack.
            match stack.pop() {
                Some((e, s)) => {
                    let op = entries[e].op;
                    state = s;
                    linearized[op / 64] &= !(1 << (op % 64));
                    if entries[e].ret != NIL {
                        relink(entries[e].ret, &mut next, &mut prev);
                        remaining_ok += 1;
                    }
                    relink(e, &mut next, &mut prev);
                    entry = next[e];
                    continue;
                }
                None => {
                    return Outcome::NotLinearizable {
                        stuck: deepest.1,
                        longest: deepest.0,
                    }
                }
            }
        }
        let Entry { op, is_call, ret } = entries[entry];
        if is_call {
            if let Some(after) = state.step(&calls[op].op) {
                linearized[op / 64] |= 1 << (op % 64);
                if cache.insert((linearized.clone(), after.clone())) {
                    stack.push((entry, std::mem::replace(&mut state, after)));
                    unlink(entry, &mut next, &mut prev);
                    if ret != NIL {
                        unlink(ret, &mut next, &mut prev);
                        remaining_ok -= 1;
                    }
                    entry = next[head];
                    continue;
                }
                linearized[op / 64] &= !(1 << (op % 64));
            }
            entry = next[entry];
        } else {
            // The return of an operation not linearized yet: what came before was wrong.
            if stack.len() >= deepest.0 {
                deepest = (stack.len(), op);
            }
            let Some((e, s)) = stack.pop() else {
                return Outcome::NotLinearizable {
                    stuck: deepest.1,
                    longest: deepest.0,
                };
            };
            let back = entries[e];
            state = s;
            linearized[back.op / 64] &= !(1 << (back.op % 64));
            if back.ret != NIL {
                relink(back.ret, &mut next, &mut prev);
                remaining_ok += 1;
            }
            relink(e, &mut next, &mut prev);
            entry = next[e];
        }
    }
    Outcome::Linearizable
}

/// A compare-and-set register holding an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Register(pub i64);

/// An operation on a [`Register`], with what it returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    Read(i64),
    Write(i64),
    Cas(i64, i64),
}

impl Model for Register {
    type Op = RegisterOp;
    fn step(&self, op: &RegisterOp) -> Option<Register> {
        match *op {
            RegisterOp::Read(v) => (v == self.0).then_some(*self),
            RegisterOp::Write(v) => Some(Register(v)),
            RegisterOp::Cas(from, to) => (from == self.0).then_some(Register(to)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegisterOp::{Cas, Read, Write};

    const BUDGET: u64 = 1_000_000;

    fn ok(op: RegisterOp, call: usize, ret: usize) -> Call<RegisterOp> {
        Call {
            op,
            call,
            ret: Some(ret),
        }
    }

    fn unknown(op: RegisterOp, call: usize) -> Call<RegisterOp> {
        Call {
            op,
            call,
            ret: None,
        }
    }

    fn verdict(calls: &[Call<RegisterOp>]) -> Outcome {
        check(Register(0), calls, BUDGET)
    }

    #[test]
    fn a_sequential_history_that_follows_the_model_is_linearizable() {
        let h = [
            ok(Write(1), 0, 1),
            ok(Read(1), 2, 3),
            ok(Cas(1, 2), 4, 5),
            ok(Read(2), 6, 7),
        ];
        assert_eq!(verdict(&h), Outcome::Linearizable);
        assert_eq!(verdict(&[]), Outcome::Linearizable);
    }

    #[test]
    fn concurrent_operations_may_take_effect_in_either_order() {
        // Two writes overlap; reads after both see the one linearized last, and a read
        // overlapping them may see either or the old value.
        let h = [
            ok(Write(1), 0, 5),
            ok(Write(2), 1, 4),
            ok(Read(0), 2, 3),
            ok(Read(1), 6, 7),
        ];
        assert_eq!(verdict(&h), Outcome::Linearizable);
        let h = [ok(Write(1), 0, 5), ok(Write(2), 1, 4), ok(Read(2), 6, 7)];
        assert_eq!(verdict(&h), Outcome::Linearizable);
    }

    #[test]
    fn an_unknown_operation_may_take_effect_late_or_never() {
        // The write timed out at the client, yet was applied later.
        let h = [unknown(Write(3), 0), ok(Read(0), 1, 2), ok(Read(3), 3, 4)];
        assert_eq!(verdict(&h), Outcome::Linearizable);
        // It never took effect.
        let h = [unknown(Write(3), 0), ok(Read(0), 1, 2), ok(Read(0), 3, 4)];
        assert_eq!(verdict(&h), Outcome::Linearizable);
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_not_linearizable() {
        let h = [ok(Write(1), 0, 1), ok(Read(0), 2, 3)];
        assert!(matches!(
            verdict(&h),
            Outcome::NotLinearizable { stuck: 1, .. }
        ));
    }

    #[test]
    fn reads_that_see_new_then_old_are_not_linearizable() {
        // The write is concurrent with both reads, but the second read starts after the
        // first one saw the new value: it may not see the old one again.
        let h = [ok(Write(1), 0, 9), ok(Read(1), 1, 2), ok(Read(0), 3, 4)];
        assert!(matches!(verdict(&h), Outcome::NotLinearizable { .. }));
    }

    #[test]
    fn a_cas_from_a_value_the_register_never_held_is_not_linearizable() {
        let h = [ok(Write(1), 0, 1), ok(Cas(2, 3), 2, 3)];
        assert!(matches!(verdict(&h), Outcome::NotLinearizable { .. }));
        // Two CAS from the same value cannot both succeed.
        let h = [ok(Cas(0, 1), 0, 3), ok(Cas(0, 2), 1, 2)];
        assert!(matches!(verdict(&h), Outcome::NotLinearizable { .. }));
    }

    #[test]
    fn an_unknown_write_cannot_explain_a_value_read_before_it_was_invoked() {
        let h = [ok(Read(5), 0, 1), unknown(Write(5), 2)];
        assert!(matches!(verdict(&h), Outcome::NotLinearizable { .. }));
    }

    #[test]
    fn many_overlapping_operations_are_decided_within_the_budget() {
        // 6 processes, 300 operations, each overlapping its neighbours: a write of i
        // followed by reads of i. Linearizable by construction.
        let mut h = Vec::new();
        let mut t = 0;
        for i in 0..50 {
            h.push(ok(Write(i), t, t + 6));
            for k in 1..6 {
                h.push(ok(Read(i), t + 7 + k, t + 20 + k));
            }
            t += 30;
        }
        assert_eq!(verdict(&h), Outcome::Linearizable);
    }

    #[test]
    fn an_exhausted_budget_is_undecided_not_valid() {
        let h: Vec<_> = (0..40).map(|i| ok(Write(i), 0, 100 + i as usize)).collect();
        let mut h = h;
        h.push(ok(Read(-1), 200, 201));
        assert_eq!(check(Register(0), &h, 50), Outcome::Undecided { steps: 50 });
    }
}

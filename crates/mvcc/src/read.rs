//! [`RangePlan`]: how a `RangeRequest` is served, with etcd 3.4's exact semantics.
//!
//! etcd fetches `limit + 1` keys in key order when the request uses the natural order
//! (sort target KEY with order NONE or ASCEND) and no revision filter. Otherwise it fetches
//! the whole range, drops what the min/max revision filters reject, sorts, and truncates
//! to `limit`, setting `more` when something was cut. `count` is always the number of keys
//! live in the range at the read revision, ignoring `limit` and the filters. We also serve
//! KEY/DESCEND without filters by a reverse scan of `limit + 1` keys, which gives the
//! same answer.

use std::cmp::Ordering;

use oxcd_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use oxcd_proto::etcdserverpb::RangeRequest;
use oxcd_proto::mvccpb::KeyValue;

/// The answer to a range.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RangeResult {
    /// The key-values, in the requested order, at most `limit` of them.
    pub kvs: Vec<KeyValue>,
    /// The number of keys in the range at the read revision (ignores limit and filters).
    pub count: i64,
    /// Whether `limit` cut the result short.
    pub more: bool,
    /// The store revision when the range was served (for `header.revision`); inside a
    /// write transaction, the transaction's own revision once it has changes.
    pub revision: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    None,
    Ascend,
    Descend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Key,
    Version,
    Create,
    Mod,
    Value,
}

/// A parsed `RangeRequest` minus the key range and revision.
#[derive(Debug, Clone)]
pub(crate) struct RangePlan {
    /// The request's sort order was NONE (before etcd's NONE→ASCEND for other targets).
    order_sent_none: bool,
    limit: usize,
    order: Order,
    target: Target,
    keys_only: bool,
    pub(crate) count_only: bool,
    min_mod: i64,
    max_mod: i64,
    min_create: i64,
    max_create: i64,
}

impl RangePlan {
    /// Parses the request. Unknown sort enum values (which etcd 3.4 does not validate)
    /// read as NONE and KEY; the server rejects them first when it follows 3.6.
    pub(crate) fn new(req: &RangeRequest) -> Self {
        let target = match SortTarget::try_from(req.sort_target) {
            Ok(SortTarget::Version) => Target::Version,
            Ok(SortTarget::Create) => Target::Create,
            Ok(SortTarget::Mod) => Target::Mod,
            Ok(SortTarget::Value) => Target::Value,
            _ => Target::Key,
        };
        let mut order = match SortOrder::try_from(req.sort_order) {
            Ok(SortOrder::Ascend) => Order::Ascend,
            Ok(SortOrder::Descend) => Order::Descend,
            _ => Order::None,
        };
        // etcd 3.4 decides the limit pushdown on the order as sent: with NONE it fetches
        // `limit + 1` keys in key order even for another sort target, and then sorts
        // only those (`--sort-by=VALUE --limit=1` sorts the first two keys).
        let order_sent_none = order == Order::None;
        if target != Target::Key && order == Order::None {
            order = Order::Ascend;
        }
        RangePlan {
            order_sent_none,
            limit: usize::try_from(req.limit).unwrap_or(0),
            order,
            target,
            keys_only: req.keys_only,
            count_only: req.count_only,
            min_mod: req.min_mod_revision,
            max_mod: req.max_mod_revision,
            min_create: req.min_create_revision,
            max_create: req.max_create_revision,
        }
    }

    fn has_filters(&self) -> bool {
        self.min_mod != 0 || self.max_mod != 0 || self.min_create != 0 || self.max_create != 0
    }

    /// How many keys to take from the index (0 = all) and whether to walk it in reverse.
    pub(crate) fn window(&self) -> (usize, bool) {
        let pushed = if self.limit == 0 {
            0
        } else {
            self.limit.saturating_add(1)
        };
        match (self.target, self.order, self.has_filters()) {
            (_, _, false) if self.order_sent_none => (pushed, false),
            (Target::Key, Order::None | Order::Ascend, false) => (pushed, false),
            (Target::Key, Order::Descend, false) => (pushed, true),
            _ => (0, false),
        }
    }

    /// Whether the answer is the index's window as it stands, values included: sorted by
    /// key (either way) without revision filters, and neither keys-only nor count-only.
    pub(crate) fn streams_in_index_order(&self) -> bool {
        !self.has_filters() && self.target == Target::Key && !self.keys_only && !self.count_only
    }

    /// The request's limit (0 = none).
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Whether values may be dropped as they are read: a keys-only range that does not
    /// sort by value never needs them.
    pub(crate) fn strips_values_early(&self) -> bool {
        self.keys_only && self.target != Target::Value
    }

    fn keeps(&self, kv: &KeyValue) -> bool {
        !((self.max_mod != 0 && kv.mod_revision > self.max_mod)
            || (self.min_mod != 0 && kv.mod_revision < self.min_mod)
            || (self.max_create != 0 && kv.create_revision > self.max_create)
            || (self.min_create != 0 && kv.create_revision < self.min_create))
    }

    /// Filters, sorts (stably, so ties keep key order), truncates and strips values.
    pub(crate) fn finish(
        &self,
        mut kvs: Vec<KeyValue>,
        count: usize,
        revision: i64,
    ) -> RangeResult {
        if self.has_filters() {
            kvs.retain(|kv| self.keeps(kv));
        }
        if self.order != Order::None {
            let desc = self.order == Order::Descend;
            match self.target {
                Target::Key => sort_by(&mut kvs, desc, |a, b| a.key.cmp(&b.key)),
                Target::Version => sort_by(&mut kvs, desc, |a, b| a.version.cmp(&b.version)),
                Target::Create => sort_by(&mut kvs, desc, |a, b| {
                    a.create_revision.cmp(&b.create_revision)
                }),
                Target::Mod => sort_by(&mut kvs, desc, |a, b| a.mod_revision.cmp(&b.mod_revision)),
                Target::Value => sort_by(&mut kvs, desc, |a, b| a.value.cmp(&b.value)),
            }
        }
        let more = self.limit > 0 && kvs.len() > self.limit;
        if more {
            kvs.truncate(self.limit);
        }
        if self.keys_only {
            for kv in &mut kvs {
                kv.value = Default::default();
            }
        }
        RangeResult {
            kvs,
            count: count as i64,
            more,
            revision,
        }
    }
}

/// Stable sort, so equal elements keep their (key) order in both directions, as Go's
/// insertion sort does for the small results etcd sorts.
fn sort_by(kvs: &mut [KeyValue], desc: bool, cmp: impl Fn(&KeyValue, &KeyValue) -> Ordering) {
    if desc {
        kvs.sort_by(|a, b| cmp(b, a));
    } else {
        kvs.sort_by(|a, b| cmp(a, b));
    }
}

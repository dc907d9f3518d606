//! Who a targeted send reaches, answered from memory.
//!
//! Per app: a bitmap of every account ordinal, of hidden ones (blocked, and the app's system
//! account), one per area (direct members), one per enterprise type, the area tree, and the
//! accid → ordinal map. Selecting a million-user audience is a few bitmap operations. The
//! index is rebuilt from the store at start and updated after every committed account or
//! dictionary write.

use std::collections::HashMap;

use roaring::RoaringBitmap;

use crate::ApiError;
use crate::account::Accid;
use crate::dict::{Area, Enterptype};
use crate::ids::Ordinal;

/// What a targeted send selects. Empty `areas` / `types` mean "no filter".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// `None`: every account; `Some`: only these.
    pub accids: Option<Vec<Accid>>,
    /// Any of these areas, including their descendant areas.
    pub areas: Vec<String>,
    /// Any of these enterprise types.
    pub types: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    area: Option<u32>,
    etype: Option<u32>,
}

/// String ids ↔ dense numbers, so bitmaps live in vectors.
#[derive(Default, Debug)]
struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
    alive: Vec<bool>,
}

impl Interner {
    fn get(&self, id: &str) -> Option<u32> {
        self.ids
            .get(id)
            .copied()
            .filter(|&i| self.alive[i as usize])
    }
    fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.ids.get(id) {
            self.alive[i as usize] = true;
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(id.to_owned(), i);
        self.names.push(id.to_owned());
        self.alive.push(true);
        i
    }
}

#[derive(Default, Debug)]
pub struct AudienceIndex {
    accids: HashMap<Box<str>, u32>,
    slots: Vec<Slot>,
    all: RoaringBitmap,
    hidden: RoaringBitmap,
    blocked: RoaringBitmap,
    system: Option<u32>,
    areas: Interner,
    area_parent: Vec<Option<u32>>,
    area_children: Vec<Vec<u32>>,
    area_members: Vec<RoaringBitmap>,
    /// Members of each area and of all its descendants (kept rolled up, so selecting a
    /// province is one bitmap, not the union of its cities').
    area_rollup: Vec<RoaringBitmap>,
    types: Interner,
    type_members: Vec<RoaringBitmap>,
}

impl AudienceIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of accounts (hidden ones included).
    pub fn len(&self) -> u64 {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn ordinal_of(&self, accid: &str) -> Option<Ordinal> {
        self.accids.get(accid).copied().map(Ordinal)
    }

    pub fn is_blocked(&self, ordinal: Ordinal) -> bool {
        self.blocked.contains(ordinal.0)
    }

    /// Every account ordinal (hidden ones included).
    pub fn all(&self) -> &RoaringBitmap {
        &self.all
    }

    pub fn knows_area(&self, id: &str) -> bool {
        self.areas.get(id).is_some()
    }

    pub fn knows_type(&self, id: &str) -> bool {
        self.types.get(id).is_some()
    }

    /// Makes the area tree and the type list exactly these (the store's current dictionaries):
    /// how a node follows dictionary writes made elsewhere. Accounts keep their places; the
    /// store never deletes an area or type that an account still has.
    pub fn sync_dictionaries(&mut self, areas: &[Area], types: &[Enterptype]) {
        for a in areas {
            if !self.knows_area(&a.areaid) {
                self.add_area(&a.areaid, None);
            }
        }
        for a in areas {
            let Some(i) = self.areas.get(&a.areaid) else {
                continue;
            };
            let current =
                self.area_parent[i as usize].map(|p| self.areas.names[p as usize].as_str());
            if current != a.parentid.as_deref() {
                self.set_area_parent(&a.areaid, a.parentid.as_deref());
            }
        }
        let keep: std::collections::HashSet<&str> =
            areas.iter().map(|a| a.areaid.as_str()).collect();
        let gone: Vec<String> = (0..self.areas.names.len())
            .filter(|&i| self.areas.alive[i] && !keep.contains(self.areas.names[i].as_str()))
            .map(|i| self.areas.names[i].clone())
            .collect();
        for id in gone {
            self.remove_area(&id);
        }
        for t in types {
            if !self.knows_type(&t.enterptypeid) {
                self.add_type(&t.enterptypeid);
            }
        }
        let keep: std::collections::HashSet<&str> =
            types.iter().map(|t| t.enterptypeid.as_str()).collect();
        let gone: Vec<String> = (0..self.types.names.len())
            .filter(|&i| self.types.alive[i] && !keep.contains(self.types.names[i].as_str()))
            .map(|i| self.types.names[i].clone())
            .collect();
        for id in gone {
            self.remove_type(&id);
        }
    }

    // --- dictionary changes ---------------------------------------------------------

    /// Adds an area (or revives a deleted one). Its parent must already be known.
    pub fn add_area(&mut self, id: &str, parent: Option<&str>) {
        let i = self.areas.intern(id) as usize;
        if self.area_parent.len() <= i {
            self.area_parent.resize(i + 1, None);
            self.area_children.resize(i + 1, Vec::new());
            self.area_members.resize(i + 1, RoaringBitmap::new());
            self.area_rollup.resize(i + 1, RoaringBitmap::new());
        }
        self.set_area_parent(id, parent);
    }

    /// `a` and its ancestors, nearest first.
    fn chain(&self, a: Option<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = a;
        while let Some(x) = cur {
            // The store refuses cycles; the bound only guards against a corrupt tree.
            if out.len() > self.area_parent.len() {
                break;
            }
            out.push(x);
            cur = self.area_parent[x as usize];
        }
        out
    }

    /// Moves an area (with its sub-areas and their accounts) under another parent.
    pub fn set_area_parent(&mut self, id: &str, parent: Option<&str>) {
        let Some(i) = self.areas.get(id) else { return };
        let moved = self.area_rollup[i as usize].clone();
        if let Some(old) = self.area_parent[i as usize].take() {
            self.area_children[old as usize].retain(|&c| c != i);
            for x in self.chain(Some(old)) {
                self.area_rollup[x as usize] -= &moved;
            }
        }
        if let Some(p) = parent.and_then(|p| self.areas.get(p)) {
            self.area_parent[i as usize] = Some(p);
            self.area_children[p as usize].push(i);
            for x in self.chain(Some(p)) {
                self.area_rollup[x as usize] |= &moved;
            }
        }
    }

    /// Removes an area; the store refuses this while accounts or children use it.
    pub fn remove_area(&mut self, id: &str) {
        if let Some(i) = self.areas.get(id) {
            self.set_area_parent(id, None);
            self.areas.alive[i as usize] = false;
        }
    }

    pub fn add_type(&mut self, id: &str) {
        let i = self.types.intern(id) as usize;
        if self.type_members.len() <= i {
            self.type_members.resize(i + 1, RoaringBitmap::new());
        }
    }

    pub fn remove_type(&mut self, id: &str) {
        if let Some(i) = self.types.get(id) {
            self.types.alive[i as usize] = false;
        }
    }

    // --- account changes ------------------------------------------------------------

    /// Sets an account's whole state as committed (new or changed). An area or type id the
    /// index does not know (yet: its dictionary write is still on its way) is treated as unset
    /// and answered `false`, so the caller can sync the dictionaries and upsert again.
    pub fn upsert_account(
        &mut self,
        ordinal: Ordinal,
        accid: &str,
        areaid: Option<&str>,
        etype: Option<&str>,
        blocked: bool,
    ) -> bool {
        let ordinal = ordinal.0;
        let areaid = areaid.filter(|s| !s.is_empty());
        let etype = etype.filter(|s| !s.is_empty());
        let known =
            areaid.is_none_or(|a| self.knows_area(a)) && etype.is_none_or(|t| self.knows_type(t));
        if self.slots.len() <= ordinal as usize {
            self.slots.resize(ordinal as usize + 1, Slot::default());
        }
        if self.all.insert(ordinal) {
            self.accids.insert(accid.into(), ordinal);
        }
        if let Some(a) = self.slots[ordinal as usize].area.take() {
            self.area_members[a as usize].remove(ordinal);
            for x in self.chain(Some(a)) {
                self.area_rollup[x as usize].remove(ordinal);
            }
        }
        let slot = &mut self.slots[ordinal as usize];
        if let Some(t) = slot.etype.take() {
            self.type_members[t as usize].remove(ordinal);
        }
        slot.area = areaid.and_then(|a| self.areas.get(a));
        slot.etype = etype.and_then(|t| self.types.get(t));
        let (area, etype) = (slot.area, slot.etype);
        if let Some(t) = etype {
            self.type_members[t as usize].insert(ordinal);
        }
        if let Some(a) = area {
            self.area_members[a as usize].insert(ordinal);
            for x in self.chain(Some(a)) {
                self.area_rollup[x as usize].insert(ordinal);
            }
        }
        if blocked {
            self.blocked.insert(ordinal);
        } else {
            self.blocked.remove(ordinal);
        }
        self.refresh_hidden(ordinal);
        known
    }

    /// The app's system account sends but never receives targeted sends.
    pub fn set_system(&mut self, ordinal: Ordinal) {
        self.system = Some(ordinal.0);
        self.refresh_hidden(ordinal.0);
    }

    fn refresh_hidden(&mut self, ordinal: u32) {
        if self.blocked.contains(ordinal) || self.system == Some(ordinal) {
            self.hidden.insert(ordinal);
        } else {
            self.hidden.remove(ordinal);
        }
    }

    // --- selection ------------------------------------------------------------------

    fn explicit(&self, list: &[Accid]) -> Result<RoaringBitmap, ApiError> {
        let mut b = RoaringBitmap::new();
        for a in list {
            let o = self
                .ordinal_of(a.as_str())
                .ok_or_else(|| ApiError::param(format!("{a} not register")))?;
            b.insert(o.0);
        }
        Ok(b)
    }

    /// The audience of a send: (the listed accounts, or all) ∩ any of the areas (with their
    /// descendants) ∩ any of the types, minus hidden accounts and `exclude` (the sender).
    /// An unknown area, type or accid is a 414 naming it.
    ///
    /// It starts from the narrowest given set (the areas' rolled-up bitmaps, else the list,
    /// else everyone), so the cost follows the audience's compressed size.
    pub fn select(
        &self,
        sel: &Selection,
        exclude: Option<Ordinal>,
    ) -> Result<RoaringBitmap, ApiError> {
        let listed = sel
            .accids
            .as_deref()
            .map(|l| self.explicit(l))
            .transpose()?;
        let mut out = if sel.areas.is_empty() {
            listed.unwrap_or_else(|| self.all.clone())
        } else {
            let mut in_areas = RoaringBitmap::new();
            for id in &sel.areas {
                let a = self
                    .areas
                    .get(id)
                    .ok_or_else(|| ApiError::param(format!("unknown areaid: {id}")))?;
                in_areas |= &self.area_rollup[a as usize];
            }
            if let Some(l) = listed {
                in_areas &= l;
            }
            in_areas
        };
        let mut types = Vec::with_capacity(sel.types.len());
        for id in &sel.types {
            let t = self
                .types
                .get(id)
                .ok_or_else(|| ApiError::param(format!("unknown enterptypeid: {id}")))?;
            types.push(&self.type_members[t as usize]);
        }
        match types.as_slice() {
            [] => {}
            [one] => out &= *one,
            many => {
                let mut in_types = RoaringBitmap::new();
                for t in many {
                    in_types |= *t;
                }
                out &= in_types;
            }
        }
        out -= &self.hidden;
        if let Some(e) = exclude {
            out.remove(e.0);
        }
        Ok(out)
    }
}

/// A bitmap as stored with a message (portable roaring format, runs compressed).
pub fn encode(bitmap: &RoaringBitmap) -> Vec<u8> {
    let mut b = bitmap.clone();
    b.optimize();
    let mut out = Vec::with_capacity(b.serialized_size());
    // Writing into a Vec cannot fail.
    let _ = b.serialize_into(&mut out);
    out
}

/// The content address of an encoded audience (equal bitmaps encode equally).
pub fn digest(encoded: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(encoded).into()
}

pub fn decode(bytes: &[u8]) -> std::io::Result<RoaringBitmap> {
    RoaringBitmap::deserialize_from(bytes)
}

#[cfg(test)]
mod tests;

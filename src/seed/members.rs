//! A membership list the seed file gives is the whole list: a stored membership of that
//! organisation (or of the instance) that the list no longer names is removed, so taking an
//! admin out of the file takes away the admin's rights. Organisations the file leaves out,
//! and lists it leaves out (no `members`, no `instanceMembers`), keep what is stored.

use super::{user_id, Applied, SeedError, SeedMember};
use crate::store::dynamodb::admin::MemberOf;
use crate::store::dynamodb::Table;

/// Deletes the stored memberships of `of` whose user `named` does not list, and records
/// each in `applied.removed`.
pub(super) async fn remove_unnamed(
    table: &Table,
    of: MemberOf<'_>,
    named: &[SeedMember],
    applied: &mut Applied,
) -> Result<(), SeedError> {
    let named = named.iter().map(|m| user_id(&m.user_id)).collect::<Result<Vec<_>, _>>()?;
    for user in table.member_ids(of).await? {
        if named.contains(&user) {
            continue;
        }
        // Gone already when another run removed it meanwhile: not counted twice.
        if table.delete_member(of, &user).await? {
            applied.removed.push(match of {
                MemberOf::Org(org) => format!("membership of user {user} in org {org}"),
                MemberOf::Instance => format!("instance membership of user {user}"),
            });
        }
    }
    Ok(())
}

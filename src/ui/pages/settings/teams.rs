//! Settings > Teams: the teams a person is in, making one, and a team's members,
//! roles and invitation links. Also the page an invitation link opens.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::AccountSummary;
use crate::api::teams::{
    AcceptInvite, CreateTeam, InviteMember, RemoveMember, RemoveTeamBudget, RevokeInvite, SetMemberRole, SetTeamBudget,
    TeamDetail, TeamRole, get_team, list_teams, team_budgets,
};
use crate::shared::dto::budgets::{Budget, BudgetScope};
use crate::shared::format::{utc_date, utc_minute};
use crate::ui::components::budget::{BudgetFields, budget_summary};
use crate::ui::components::error_page::ErrorPage;
use crate::ui::components::forms::{Field, FormError, field_error, form_error};
use crate::ui::components::frame::SignedIn;
use crate::ui::pages::settings::SettingsNav;

#[component]
pub fn TeamsPage() -> impl IntoView {
    view! {
        <Title text="Teams · Settings" />
        <header class="page-header">
            <p class="eyebrow">"Settings"</p>
            <h1>"Teams"</h1>
            <p class="lead">
                "A team has its own wallet that its members spend from. Owners and admins invite people "
                "by link, set roles and manage billing."
            </p>
        </header>
        <SettingsNav />
        <SignedIn here="/settings/teams" children=|account| view! { <Teams account /> } />
    }
}

#[component]
fn Teams(account: AccountSummary) -> impl IntoView {
    let query = use_query_map();
    let selected = Memo::new(move |_| query.read().get("team").filter(|t| !t.is_empty()));
    let create = ServerAction::<CreateTeam>::new();
    let teams = Resource::new(move || create.version().get(), |_| list_teams());
    let created = create.value();
    view! {
        <section class="card" aria-labelledby="teams-title">
            <h2 id="teams-title">"Your teams"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match teams.await {
                        Err(e) => view! { <p class="notice notice--error">{e.to_string()}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="muted" data-testid="no-teams">"You are not in a team yet."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="team-list" data-testid="teams">
                                {list.into_iter().map(|t| {
                                    let href = format!("/settings/teams?team={}", t.id);
                                    let current = selected.get().as_deref() == Some(t.id.as_str());
                                    view! {
                                        <li>
                                            <a href=href aria-current=current.then_some("page")>{t.name}</a>
                                            " "
                                            <span class="muted">{format!("{} · {} member{}", t.role.label(), t.members, if t.members == 1 { "" } else { "s" })}</span>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=create attr:class="form form--inline" attr:novalidate=true>
                <FormError message=form_error(created, &["name"]) />
                <Field label="New team name" name="name" error=field_error(created, "name") />
                <button type="submit" class="btn btn--primary" disabled=move || create.pending().get()>"Create team"</button>
            </ActionForm>
            {move || created.get().and_then(Result::ok).map(|t| view! {
                <p class="notice notice--ok" role="status">
                    {format!("Team \u{201c}{}\u{201d} created. ", t.name)}
                    <a href=format!("/settings/teams?team={}", t.id)>"Invite people"</a>
                </p>
            })}
        </section>
        {move || selected.get().map(|team| view! { <TeamSection team email=account.email.clone() /> })}
    }
}

#[component]
fn TeamSection(team: String, email: String) -> impl IntoView {
    let invite = ServerAction::<InviteMember>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let set_role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let set_budget = ServerAction::<SetTeamBudget>::new();
    let remove_budget = ServerAction::<RemoveTeamBudget>::new();
    let id = team.clone();
    let detail = Resource::new(
        move || {
            (
                invite.version().get(),
                revoke.version().get(),
                set_role.version().get(),
                remove.version().get(),
                set_budget.version().get(),
                remove_budget.version().get(),
            )
        },
        move |_| {
            let id = id.clone();
            async move { Ok::<_, crate::shared::error::AppError>((get_team(id.clone()).await?, team_budgets(id).await?)) }
        },
    );
    let actions =
        MemberActions { set_role, remove, budgets: TeamBudgetActions { set: set_budget, remove: remove_budget } };
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let (team, email) = (team.clone(), email.clone());
                Suspend::new(async move {
                    match detail.await {
                        Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                        Ok((d, budgets)) => view! {
                            <TeamBudgetCard detail=d.clone() budgets email=email.clone() actions=actions.budgets />
                            <TeamMembers detail=d.clone() email actions />
                            {d.team.role.manages().then(|| view! {
                                <Invites detail=d.clone() team invite revoke />
                            })}
                        }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[derive(Clone, Copy)]
struct MemberActions {
    set_role: ServerAction<SetMemberRole>,
    remove: ServerAction<RemoveMember>,
    budgets: TeamBudgetActions,
}

#[derive(Clone, Copy)]
struct TeamBudgetActions {
    set: ServerAction<SetTeamBudget>,
    remove: ServerAction<RemoveTeamBudget>,
}

/// The team's budgets: the whole team's, and each member's. Everyone in the team sees
/// the team's and their own; owners and admins see and set them all.
#[component]
fn TeamBudgetCard(
    detail: TeamDetail,
    budgets: Vec<Budget>,
    email: String,
    actions: TeamBudgetActions,
) -> impl IntoView {
    let manages = detail.team.role.manages();
    let team = detail.team.id.clone();
    let team_budget = budgets.iter().find(|b| b.scope == BudgetScope::Team).cloned();
    let members: Vec<_> = detail.members.iter().filter(|m| manages || m.email == email).cloned().collect();
    view! {
        <section class="card" aria-labelledby="team-budget-title">
            <h2 id="team-budget-title">{format!("{}: budgets", detail.team.name)}</h2>
            <p class="muted">
                "Limits on what is spent from the team's wallet per window (UTC): by the whole team, and by each "
                "member. Calls that would pass one are refused with 402 before they run; failed calls give their "
                "share back."
            </p>
            <FormError message=form_error(actions.set.value(), &[]) />
            <FormError message=form_error(actions.remove.value(), &[]) />
            <h3>"Whole team"</h3>
            <BudgetEditor
                team=team.clone()
                member=None
                name=format!("team {}", detail.team.name)
                budget=team_budget
                editable=manages
                actions
            />
            <h3>{if manages { "Per member" } else { "Yours" }}</h3>
            <ul class="member-budgets" data-testid="member-budgets">
                {members.into_iter().map(|m| {
                    let subject = format!("{team}:{}", m.user_id);
                    let budget = budgets.iter().find(|b| b.scope == BudgetScope::Member && b.subject == subject).cloned();
                    view! {
                        <li class="member-budgets__row">
                            <span class="member-budgets__who">{m.email.clone()}</span>
                            <BudgetEditor
                                team=team.clone()
                                member=Some(m.user_id.clone())
                                name=m.email.clone()
                                budget
                                editable=manages
                                actions
                            />
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// One budget (the team's, or a member's) and, for owners and admins, its form.
#[component]
fn BudgetEditor(
    team: String,
    member: Option<String>,
    name: String,
    budget: Option<Budget>,
    editable: bool,
    actions: TeamBudgetActions,
) -> impl IntoView {
    let summary = budget_summary(budget.as_ref());
    let has_budget = budget.is_some();
    let key = member.clone().unwrap_or_else(|| team.clone());
    let member = member.unwrap_or_default();
    let remove_label = format!("Remove the budget of {name}");
    let testid = format!("budget-{name}");
    let (team_b, member_b) = (team.clone(), member.clone());
    view! {
        <div class="token-budget" data-testid=testid>
            <p class="token-budget__now">{summary}</p>
            {editable.then(move || view! {
                <div class="token-budget__actions">
                    <ActionForm action=actions.set attr:class="inline-form token-budget__form">
                        <input type="hidden" name="team" value=team />
                        <input type="hidden" name="member" value=member />
                        <BudgetFields key name budget />
                        <button type="submit" class="btn btn--small">"Set budget"</button>
                    </ActionForm>
                    {has_budget.then(move || view! {
                        <ActionForm action=actions.remove attr:class="inline-form">
                            <input type="hidden" name="team" value=team_b />
                            <input type="hidden" name="member" value=member_b />
                            <button type="submit" class="btn btn--small" aria-label=remove_label>"Remove"</button>
                        </ActionForm>
                    })}
                </div>
            })}
        </div>
    }
}

#[component]
fn TeamMembers(detail: TeamDetail, email: String, actions: MemberActions) -> impl IntoView {
    let MemberActions { set_role, remove, .. } = actions;
    let mine = detail.team.role;
    let team = detail.team.id.clone();
    view! {
        <section class="card" aria-labelledby="members-title">
            <h2 id="members-title">{format!("{}: members", detail.team.name)}</h2>
            <FormError message=form_error(set_role.value(), &[]) />
            <FormError message=form_error(remove.value(), &[]) />
            <div class="table-wrap">
                <table class="table" data-testid="members">
                    <thead>
                        <tr>
                            <th scope="col">"Email"</th>
                            <th scope="col">"Role"</th>
                            <th scope="col">"Joined"</th>
                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        {detail.members.into_iter().map(|m| {
                            let me = m.email == email;
                            // Owners manage everyone; admins manage admins and members.
                            let may_manage = !me && mine.manages() && (m.role != TeamRole::Owner || mine == TeamRole::Owner);
                            let choices: Vec<TeamRole> = TeamRole::ALL
                                .iter()
                                .copied()
                                .filter(|r| mine == TeamRole::Owner || *r != TeamRole::Owner)
                                .collect();
                            let (team_a, team_b) = (team.clone(), team.clone());
                            let (who_a, who_b) = (m.user_id.clone(), m.user_id.clone());
                            let role_label = format!("Role of {}", m.email);
                            let remove_label = if me { "Leave the team".to_string() } else { format!("Remove {}", m.email) };
                            view! {
                                <tr>
                                    <td>{m.email.clone()}{me.then_some(" (you)")}</td>
                                    <td>
                                        {if may_manage {
                                            view! {
                                                <ActionForm action=set_role attr:class="inline-form">
                                                    <input type="hidden" name="team" value=team_a />
                                                    <input type="hidden" name="member" value=who_a />
                                                    <select name="role" aria-label=role_label>
                                                        {choices.into_iter().map(|r| view! {
                                                            <option value=r.as_str() selected=r == m.role>{r.label()}</option>
                                                        }).collect_view()}
                                                    </select>
                                                    " "
                                                    <button type="submit" class="btn btn--small">"Save"</button>
                                                </ActionForm>
                                            }.into_any()
                                        } else {
                                            view! { <span>{m.role.label()}</span> }.into_any()
                                        }}
                                    </td>
                                    <td>{utc_minute(m.joined_at_ms)}</td>
                                    <td class="table__actions">
                                        {(me || may_manage).then(|| view! {
                                            <ActionForm action=remove attr:class="inline-form">
                                                <input type="hidden" name="team" value=team_b />
                                                <input type="hidden" name="member" value=who_b />
                                                <button type="submit" class="btn btn--small btn--danger">{remove_label}</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn Invites(
    detail: TeamDetail,
    team: String,
    invite: ServerAction<InviteMember>,
    revoke: ServerAction<RevokeInvite>,
) -> impl IntoView {
    let made = invite.value();
    let owner = detail.team.role == TeamRole::Owner;
    let team_for_revoke = team.clone();
    view! {
        <section class="card" aria-labelledby="invite-title">
            <h2 id="invite-title">"Invite someone"</h2>
            <p class="muted">"Make a link and send it to them. It works once, for 7 days."</p>
            <ActionForm action=invite attr:class="form form--inline">
                <FormError message=form_error(made, &[]) />
                <input type="hidden" name="team" value=team />
                <div class="field">
                    <label for="invite-role">"Role"</label>
                    <select id="invite-role" name="role">
                        <option value="member" selected=true>"Member"</option>
                        {owner.then(|| view! { <option value="admin">"Admin"</option> })}
                    </select>
                </div>
                <button type="submit" class="btn btn--primary" disabled=move || invite.pending().get()>"Make invitation link"</button>
            </ActionForm>
            {move || made.get().and_then(Result::ok).map(|n| view! {
                <div class="notice notice--ok new-token" role="status">
                    <p><strong>{format!("Invitation for a new {} made.", n.invite.role.label().to_lowercase())}</strong>" Send this link; it is not shown again:"</p>
                    <code class="secret" data-testid="invite-link">{n.link}</code>
                </div>
            })}
            {(!detail.invites.is_empty()).then(|| view! {
                <h3>"Open invitations"</h3>
                <FormError message=form_error(revoke.value(), &[]) />
                <ul class="invite-list" data-testid="invites">
                    {detail.invites.into_iter().map(|i| {
                        let team = team_for_revoke.clone();
                        view! {
                            <li>
                                {format!("{}, made {}, works until {}", i.role.label(), utc_minute(i.created_at_ms), utc_date(i.expires_at_ms))}
                                " "
                                <ActionForm action=revoke attr:class="inline-form">
                                    <input type="hidden" name="team" value=team />
                                    <input type="hidden" name="invite" value=i.id.clone() />
                                    <button type="submit" class="btn btn--small">"Revoke"</button>
                                </ActionForm>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
        </section>
    }
}

/// `/teams/join?code=...`: what an invitation link opens.
#[component]
pub fn JoinTeamPage() -> impl IntoView {
    let query = use_query_map();
    let code = move || query.read().get("code").unwrap_or_default();
    let join = ServerAction::<AcceptInvite>::new();
    let joined = join.value();
    let account = expect_context::<crate::ui::context::AccountResource>();
    view! {
        <Title text="Join a team" />
        <header class="page-header">
            <h1>"Join a team"</h1>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let next = crate::shared::dto::auth::encode_query_value(&format!("/teams/join?code={}", code()));
                match account.await {
                    Ok(Some(a)) => view! {
                        <section class="card">
                            <p>{format!("You are signed in as {}. Join the team that invited you?", a.email)}</p>
                            <ActionForm action=join attr:class="form">
                                <FormError message=form_error(joined, &[]) />
                                <input type="hidden" name="code" value=code() />
                                <button type="submit" class="btn btn--primary" disabled=move || join.pending().get()>"Join team"</button>
                            </ActionForm>
                            {move || joined.get().and_then(Result::ok).map(|t| view! {
                                <p class="notice notice--ok" role="status">
                                    {format!("You joined {} as {}. ", t.name, t.role.label().to_lowercase())}
                                    <a href=format!("/settings/teams?team={}", t.id)>"See the team"</a>
                                </p>
                            })}
                        </section>
                    }.into_any(),
                    _ => view! {
                        <section class="card">
                            <p>"Sign in or create an account to join the team that invited you."</p>
                            <p>
                                <a class="btn btn--primary" href=format!("/signup?next={next}")>"Sign up"</a>
                                " "
                                <a class="btn" href=format!("/signin?next={next}")>"Sign in"</a>
                            </p>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

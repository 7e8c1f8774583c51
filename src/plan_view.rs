//! The plan as a timeline of phases and steps, the downloads and the share link.

use crate::browser;
use leptos::prelude::*;
use lockstep_planner::plan::{human_seconds, Blocks, Phase, Step};
use lockstep_planner::render::{json, markdown, psql_step, sql};
use lockstep_planner::{FieldError, Params, Plan};

type PlanResult = Result<Plan, Vec<FieldError>>;

#[component]
pub fn Output(result: Memo<PlanResult>) -> impl IntoView {
    move || {
        match result.get() {
        Ok(plan) => view! { <PlanView plan=plan/> }.into_any(),
        Err(errors) => view! {
            <div class="problems" role="alert">
                <h2>"The request needs attention"</h2>
                <ul>
                    {errors.into_iter().map(|e| view! { <li><code>{e.field}</code>": "{e.message}</li> }).collect_view()}
                </ul>
            </div>
        }
        .into_any(),
    }
    }
}

#[component]
pub fn Downloads(
    params: RwSignal<Params>,
    result: Memo<PlanResult>,
    query: Memo<String>,
) -> impl IntoView {
    let link = move || format!("{}?{}", browser::page_address(), query.get());
    let save = move |format: &'static str| {
        let Ok(plan) = result.get_untracked() else {
            return;
        };
        let params = params.get_untracked();
        let base = format!(
            "lockstep-{}-{}",
            plan.change,
            params.get("table").unwrap_or("table")
        )
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>();
        let (name, mime, text) = match format {
            "md" => (
                format!("{base}.md"),
                "text/markdown",
                markdown::render(&plan, &params),
            ),
            "sql" => (
                format!("{base}.sql"),
                "application/sql",
                sql::forward(&plan),
            ),
            "rollback" => (
                format!("{base}-rollback.sql"),
                "application/sql",
                sql::rollback(&plan),
            ),
            _ => (
                format!("{base}.json"),
                "application/json",
                json::render(&plan, &params),
            ),
        };
        browser::download(&name, mime, &text);
    };
    view! {
        <div class="toolbar">
            <button type="button" on:click=move |_| save("md") disabled=move || result.with(|r| r.is_err())>"Markdown"</button>
            <button type="button" on:click=move |_| save("sql") disabled=move || result.with(|r| r.is_err())>"SQL"</button>
            <button type="button" on:click=move |_| save("rollback") disabled=move || result.with(|r| r.is_err())>"Rollback SQL"</button>
            <button type="button" on:click=move |_| save("json") disabled=move || result.with(|r| r.is_err())>"JSON"</button>
            <label class="share">
                <span>"Share link"</span>
                <input type="text" readonly prop:value=link on:focus=|ev| {
                    use wasm_bindgen::JsCast;
                    if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                        input.select();
                    }
                }/>
            </label>
        </div>
    }
}

#[component]
fn PlanView(plan: Plan) -> impl IntoView {
    let blocking = if plan.longest_blocking_seconds <= 0.0 {
        "No step blocks reads or writes beyond waiting for its lock.".to_string()
    } else {
        format!(
            "Longest blocking step: up to {}.",
            human_seconds(plan.longest_blocking_seconds)
        )
    };
    view! {
        <article class="plan">
            <h2 class="summary">{plan.summary.clone()}</h2>
            <p class="meta">"PostgreSQL "{plan.version.clone()}" · "<code>{plan.table.clone()}</code>" · "{blocking}</p>
            <p class="strategy"><strong>{format!("Strategy: {}. ", plan.strategy.chosen)}</strong>{plan.strategy.rule.clone()}</p>
            {(!plan.warnings.is_empty()).then(|| view! {
                <ul class="warnings">
                    {plan.warnings.iter().map(|w| view! { <li><strong>{w.code.clone()}</strong>": "{w.message.clone()}</li> }).collect_view()}
                </ul>
            })}
            <ol class="phases">
                {plan.phases.iter().enumerate().map(|(i, p)| view! { <PhaseView number=i + 1 phase=p.clone()/> }).collect_view()}
            </ol>
            {plan.alternative.clone().map(|alt| view! {
                <section class="alternative">
                    <h3>{alt.label}</h3>
                    <p>{alt.why}</p>
                    {alt.phases.iter().flat_map(|p| p.steps.iter()).map(|s| view! {
                        <div class="alt-step">
                            <p>{s.title.clone()}" — "<LockBadge step=s.clone()/>" for "{s.estimate.describe()}</p>
                            <pre><code>{psql_step(s)}</code></pre>
                        </div>
                    }).collect_view()}
                </section>
            })}
            <details class="assumptions">
                <summary>"Assumptions behind the durations"</summary>
                <ul>
                    {plan.assumptions.iter().map(|a| view! {
                        <li>{format!("{}: {}", a.name, a.value)}{(!a.overridden_by.is_empty()).then(|| format!(" (option: {})", a.overridden_by))}</li>
                    }).collect_view()}
                </ul>
            </details>
        </article>
    }
}

#[component]
fn PhaseView(number: usize, phase: Phase) -> impl IntoView {
    view! {
        <li class="phase">
            <h3>{format!("Phase {number}: {}", phase.name)}</h3>
            <p>{phase.purpose.clone()}</p>
            {phase.app_change.clone().map(|a| view! { <p class="gate"><strong>"Deploy gate: "</strong>{a}</p> })}
            {phase.steps.iter().enumerate().map(|(j, s)| view! { <StepView label=format!("{number}.{}", j + 1) step=s.clone()/> }).collect_view()}
            {(!phase.checks.is_empty()).then(|| view! {
                <div class="checks">
                    <h4>"Checks"</h4>
                    {phase.checks.iter().map(|c| view! {
                        <div class="check">
                            <p>{c.description.clone()}" — expect "<em>{c.expect.clone()}</em></p>
                            <pre><code>{c.sql.clone()}</code></pre>
                        </div>
                    }).collect_view()}
                </div>
            })}
            <div class="rollback">
                <h4>"Rollback"</h4>
                {match phase.irreversible.clone() {
                    Some(why) => view! { <p>"Cannot be rolled back: "{why}</p> }.into_any(),
                    None if phase.rollback.is_empty() => view! { <p>"Nothing to undo."</p> }.into_any(),
                    None => phase.rollback.iter().map(|r| view! {
                        <pre><code>{r.sql.clone()}</code></pre>
                        {r.note.clone().map(|n| view! { <p class="note">{n}</p> })}
                    }).collect_view().into_any(),
                }}
            </div>
        </li>
    }
}

#[component]
fn LockBadge(step: Step) -> impl IntoView {
    let class = match step.blocks {
        Blocks::Nothing => "badge ok",
        Blocks::Writes => "badge warn",
        Blocks::ReadsAndWrites => "badge stop",
    };
    let lock = step
        .lock
        .map_or("no table lock".to_string(), |l| l.name().to_string());
    view! { <span class=class>{format!("{lock} · blocks {}", step.blocks.describe())}</span> }
}

#[component]
fn StepView(label: String, step: Step) -> impl IntoView {
    let table = match (step.rewrites_table, step.scans_table) {
        (true, _) => "rewrites the table",
        (false, true) => "scans the table",
        _ => "does not touch table data",
    };
    view! {
        <div class="step">
            <h4>{format!("Step {label}: {}", step.title)}</h4>
            <p class="facts">
                <LockBadge step=step.clone()/>
                <span>{format!(" · {} · {} · {}", step.estimate.describe(), table,
                    if step.in_transaction { "in one transaction" } else { "outside any transaction" })}</span>
            </p>
            <pre><code>{psql_step(&step)}</code></pre>
            <ul class="notes">
                {step.notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view()}
                <li>"Retry: "{step.retry.clone()}</li>
            </ul>
        </div>
    }
}

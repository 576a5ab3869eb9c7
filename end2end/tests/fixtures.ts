import { test as base, expect } from "@playwright/test";

// Every test fails if the page logs an error or throws: a hydration mismatch or a panic
// in the browser bundle shows up here even when the page still looks right.
// "Failed to load resource" is left out: a 404 page is one on purpose.
export const test = base.extend<{ browserErrors: string[] }>({
  browserErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
          errors.push(`console: ${m.text()}`);
        }
      });
      await use(errors);
      expect(errors, "errors in the browser").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Waits until the browser bundle has taken over the server-rendered page. */
export async function hydrated(page: import("@playwright/test").Page): Promise<void> {
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "true");
}

/** A fresh address for every sign-up: nothing depends on what another test left behind. */
export function newEmail(prefix = "user"): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`;
}

/** Closes the "Get started" dialog a new account is greeted with. */
export async function dismissOnboarding(page: import("@playwright/test").Page): Promise<void> {
  await hydrated(page);
  const gate = page.getByRole("dialog", { name: "Get started" });
  await expect(gate).toBeVisible();
  const remembered = onboardingDone(page);
  await gate.getByRole("button", { name: "Set up later" }).click();
  await expect(gate).toBeHidden();
  await remembered;
}

/** Saves a screenshot when TOLLGATE_SCREENSHOTS names a folder (for looking, not asserting). */
export async function snapshot(page: import("@playwright/test").Page, name: string): Promise<void> {
  const dir = process.env.TOLLGATE_SCREENSHOTS;
  if (dir) await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

/** Resolves when the server has recorded that the "Get started" dialog was dismissed. */
export function onboardingDone(page: import("@playwright/test").Page): Promise<unknown> {
  return page.waitForResponse((r) => r.url().endsWith("/api/onboarding_done") && r.ok());
}

/** Signs up a new account as `email`; it lands on /credits, greeted by "Get started". */
export async function signUpGreeted(page: import("@playwright/test").Page, email: string): Promise<void> {
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/credits$/);
}

/** Signs up a new account as `email` and closes the "Get started" dialog on /credits. */
export async function signUpAs(page: import("@playwright/test").Page, email: string): Promise<void> {
  await signUpGreeted(page, email);
  await dismissOnboarding(page);
}

/** Signs in as `email` (made with `signUpAs`) and opens the Credits page. */
export async function signInAs(page: import("@playwright/test").Page, email: string): Promise<void> {
  await page.goto("/signin");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).not.toHaveURL(/\/signin/);
  await page.goto("/credits");
  await hydrated(page);
}

/**
 * Gives `email` its own price of `usd` dollars per fal-ai/flux/schnell image (with the
 * tollgate command, against the server's data directory), then generates one in the
 * Studio and waits for its cost.
 */
export async function generateAtPrice(page: import("@playwright/test").Page, email: string, usd: string): Promise<void> {
  const { execFileSync } = await import("node:child_process");
  execFileSync("../target/debug/tollgate", ["admin", "prices", "set", "--email", email, "--endpoint", "fal-ai/flux/schnell", "--usd", usd]);
  const cost = `$${Number(usd).toFixed(2)}`;
  await page.goto("/studio");
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId("estimate")).toContainText(cost, { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await page.getByLabel("Prompt").fill("a lighthouse at dusk");
  await page.getByRole("button", { name: "Generate" }).click();
  await expect(page.getByText(`Cost ${cost}, charged to your credits`)).toBeVisible();
}

/** Makes a team on Settings > Teams and chooses its wallet in the header. */
export async function createTeamAndChooseIt(page: import("@playwright/test").Page, name: string): Promise<void> {
  await page.goto("/settings/teams");
  await hydrated(page);
  await page.getByLabel("New team name").fill(name);
  await page.getByRole("button", { name: "Create team" }).click();
  await expect(page.getByTestId("teams")).toContainText(name);
  await page.reload();
  await hydrated(page);
  await page.getByTestId("wallet-switcher").selectOption({ label: `Team: ${name}` });
  await expect(page.getByTestId("header-balance")).toHaveText("$0.00");
}

/** The owner makes an invitation link to team `name`; `member` opens it and joins. */
export async function inviteAndJoin(
  owner: import("@playwright/test").Page,
  member: import("@playwright/test").Page,
  name: string,
): Promise<void> {
  await owner.goto("/settings/teams");
  await hydrated(owner);
  await owner.getByRole("link", { name }).click();
  await owner.getByRole("button", { name: "Make invitation link" }).click();
  const link = (await owner.getByTestId("invite-link").textContent())!.trim();
  await member.goto(link);
  await hydrated(member);
  await member.getByRole("button", { name: "Join team" }).click();
  await expect(member.getByRole("status")).toContainText(`You joined ${name} as member.`);
}

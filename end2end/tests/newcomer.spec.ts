import { execFileSync } from "node:child_process";
import { dismissOnboarding, expect, hydrated, newEmail, signUpAs, signUpGreeted, snapshot, test } from "./fixtures";

// What a new person meets on the home page, the Credits page, the Studio and the billing
// gate, at a desktop's width and a phone's, with JavaScript and without.

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

function tollgate(...args: string[]): string {
  return execFileSync("../target/debug/tollgate", args, { encoding: "utf8" });
}

/** A call through the gateway with the page's session (as the API or another tab makes it). */
async function run(page: import("@playwright/test").Page, id: string): Promise<void> {
  const res = await page.request.post("/api/v1/run/fal-ai/flux/schnell", {
    data: { prompt: "a fox" },
    headers: { "x-request-id": id },
  });
  expect(res.status()).toBe(200);
}

/** Gives `email` its own price for fal-ai/flux/schnell, and waits until the server uses it. */
async function priceSchnell(page: import("@playwright/test").Page, email: string, usd: string): Promise<void> {
  tollgate("admin", "prices", "set", "--email", email, "--endpoint", "fal-ai/flux/schnell", "--usd", usd);
  const micros = String(Math.round(Number(usd) * 1e6));
  // A dry run (answered 200, or 402 when it is more than the balance) names the new price.
  await expect(async () => {
    const res = await page.request.post("/api/v1/run/fal-ai/flux/schnell?dryRun=true", { data: { prompt: "x" } });
    expect(await res.text()).toContain(micros);
  }).toPass({ timeout: 20_000 });
}

for (const [name, viewport] of [
  ["desktop", DESKTOP],
  ["phone", PHONE],
] as const) {
  test.describe(`at ${name} width`, () => {
    test.use({ viewport });

    test("the home page says what it is, what it costs, and how to start", async ({ page }) => {
      await page.goto("/");
      await hydrated(page);
      await expect(page.getByText("Service status")).toHaveCount(0);
      const pricing = page.getByTestId("pricing");
      await expect(pricing.getByRole("heading", { name: "What it costs" })).toBeVisible();
      await expect(pricing.getByRole("listitem").first()).toContainText("Images");
      await expect(pricing.getByRole("listitem").first()).toContainText("from $0.0030 per image");
      await expect(pricing.getByRole("listitem").first()).toContainText("FLUX.1 [schnell]");
      await expect(pricing).toContainText("Videos");
      const signUp = page.getByRole("main").getByRole("link", { name: "Sign up: $5.00 free" });
      await expect(signUp).toBeVisible();
      await expect(page.getByRole("main").getByRole("link", { name: "Sign in" })).toBeVisible();
      await snapshot(page, `home-visitor-${name}`);
      await signUp.click();
      await expect(page).toHaveURL(/\/signup$/);
    });

    test("buying says why an amount cannot be bought, next to the field", async ({ page }) => {
      await signUpAs(page, newEmail("buy-says"));
      const amount = page.getByLabel("Amount (USD)");
      const error = page.getByTestId("amount-error");
      const buy = page.getByRole("button", { name: "Continue to payment" });
      await expect(error).toHaveAttribute("aria-live", "polite");
      for (const [typed, says] of [
        ["4", "The smallest purchase is $5.00."],
        ["$4", "The smallest purchase is $5.00."],
        ["1,001", "The largest purchase is $1,000.00."],
        ["$1,001", "The largest purchase is $1,000.00."],
        ["abc", "Use dollars and cents, e.g. 12.50."],
        ["12.345", "Use dollars and cents, e.g. 12.50."],
      ]) {
        await amount.fill(typed);
        await expect(error).toHaveText(says);
        await expect(amount).toHaveAttribute("aria-invalid", "true");
        await expect(buy).toBeDisabled();
      }
      await amount.fill("25");
      await expect(error).toHaveText("");
      await expect(page.getByTestId("quote")).toHaveText("You pay $25.00, you get $25.00.");
      await expect(buy).toBeEnabled();
      await amount.fill("1,000");
      await expect(page.getByTestId("quote")).toHaveText("You pay $1,000.00, you get $1,100.00.");
      await amount.fill("abc");
      await snapshot(page, `buy-amount-message-${name}`);
    });

    test("every figure on the Credits page agrees after money moves elsewhere", async ({ page }) => {
      const email = newEmail("figures");
      await signUpGreeted(page, email);
      await hydrated(page);
      const gate = page.getByRole("dialog", { name: "Get started" });
      await expect(gate).toContainText("You have $5.00 of credit");

      // A call made elsewhere (the API, another tab) while the page is open.
      await run(page, "figures-1");
      await expect(gate).toContainText("You have $4.9970 of credit");
      await gate.getByRole("button", { name: "Set up later" }).click();
      await expect(gate).toBeHidden();
      await expect(page.getByTestId("balance")).toHaveText("$4.9970");
      await expect(page.getByTestId("header-balance")).toHaveText("$4.9970");
      await expect(page.getByTestId("usage-balance")).toContainText("$4.9970");
      await expect(page.getByTestId("usage-total")).toHaveText("$0.0030");
      await expect(page.getByTestId("low-balance")).toHaveCount(0);

      // Spent under the low-balance line: the warning and the badge appear with the figure.
      await priceSchnell(page, email, "4.5");
      await run(page, "figures-2");
      await expect(page.getByTestId("balance")).toHaveText("$0.4970");
      await expect(page.getByTestId("header-balance")).toHaveText("$0.4970");
      await expect(page.getByTestId("low-balance")).toContainText("Your balance is under $1.00");
      await expect(page.getByTestId("usage-low-balance")).toBeVisible();
      await expect(page.getByTestId("usage-total")).toHaveText("$4.5030");

      // Back over it (a gift code redeemed from the command line's code): both go.
      const csv = tollgate("admin", "gift-codes", "create", "--amount", "10");
      const code = csv.trim().split("\n")[1].split(",")[0];
      const other = await page.context().newPage();
      await other.goto("/credits?tab=gift-codes");
      await hydrated(other);
      await other.getByLabel("Gift code", { exact: true }).fill(code);
      await other.getByRole("button", { name: "Redeem" }).click();
      await expect(other.getByText("$10.00 was added to your balance.")).toBeVisible();
      await other.close();
      await expect(page.getByTestId("balance")).toHaveText("$10.4970");
      await expect(page.getByTestId("low-balance")).toHaveCount(0);
      await expect(page.getByTestId("usage-low-balance")).toHaveCount(0);
      await snapshot(page, `credits-figures-${name}`);

      // A reload reads the same.
      await page.reload();
      await hydrated(page);
      await expect(page.getByTestId("balance")).toHaveText("$10.4970");
      await expect(page.getByTestId("header-balance")).toHaveText("$10.4970");
    });

    test("the billing gate from the Studio says what is needed and brings the prompt back", async ({ page }) => {
      const email = newEmail("gate");
      await signUpAs(page, email);
      await priceSchnell(page, email, "6");
      await page.goto("/studio");
      await hydrated(page);
      await page.getByLabel("Prompt").fill("a lighthouse at dusk, oil painting");
      await page.getByLabel("Images").selectOption("2");
      await page.getByRole("button", { name: "Generate" }).click();

      const gate = page.getByRole("dialog", { name: "Set up billing to continue" });
      await expect(gate).toBeVisible();
      await expect(gate).toContainText("This needs $12.00 and you have $5.00 available, and no fal.ai key of yours covers it.");
      await expect(gate.getByRole("link", { name: /Add credits/ })).toBeVisible();
      await expect(gate.getByRole("link", { name: /Add a fal\.ai key/ })).toBeVisible();
      // OpenRouter cannot pay for pictures: not offered here.
      await expect(gate.getByRole("link", { name: /Connect OpenRouter/ })).toHaveCount(0);
      await expect(page.locator(".toast")).toHaveCount(0);
      await snapshot(page, `gate-studio-${name}`);

      await gate.getByRole("link", { name: /Add credits/ }).click();
      await expect(page).toHaveURL(/\/credits\?tab=balance&next=/);
      await hydrated(page);
      await expect(page.locator(".toast")).toHaveCount(0);
      await page.getByRole("link", { name: /Continue where you left off/ }).click();
      await expect(page).toHaveURL(/\/studio$/);
      await hydrated(page);
      await expect(page.getByLabel("Prompt")).toHaveValue("a lighthouse at dusk, oil painting");
      await expect(page.getByLabel("Images")).toHaveValue("2");
    });

    test("the Transactions tab and the call history keep every figure on screen", async ({ page }) => {
      await signUpAs(page, newEmail("narrow"));
      await run(page, "narrow-1");
      await run(page, "narrow-2");
      await page.goto("/credits");
      await hydrated(page);
      const width = page.viewportSize()?.width ?? 0;
      const onScreen = async (locator: import("@playwright/test").Locator) => {
        await expect(locator).toBeVisible();
        const box = await locator.boundingBox();
        expect(box, "drawn").not.toBeNull();
        expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(width);
        expect(box?.x ?? -1).toBeGreaterThanOrEqual(0);
      };
      // The page itself never scrolls sideways.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);

      const history = page.getByTestId("usage-history");
      const call = history.locator("tr[data-status=succeeded]").first();
      await onScreen(call.locator(".usage-history__cost"));
      await onScreen(call.locator(".usage-history__model"));
      await expect(call).toContainText("FLUX.1 [schnell]");

      // The chart is drawn whole, today included.
      const chart = page.getByRole("img", { name: /Daily credit spend/ });
      await onScreen(chart);
      const today = new Date().toISOString().slice(0, 10);
      await onScreen(chart.locator(`[data-date="${today}"] .spend-chart__label`));

      for (const tab of ["Balance", "Transactions", "Gift Codes"]) {
        const label = page.getByRole("tab", { name: tab });
        await onScreen(label);
        expect(await label.evaluate((el) => el.scrollWidth <= el.clientWidth), `${tab} is not cut off`).toBe(true);
      }
      await snapshot(page, `credits-balance-${name}`);

      await page.getByRole("tab", { name: "Transactions" }).click();
      await expect(page).toHaveURL(/tab=transactions/);
      const row = page.locator("tr[data-code=usage]").first();
      await onScreen(row.locator(".tx-table__amount"));
      await onScreen(row.locator(".tx-table__balance"));
      await expect(row.locator(".tx-table__amount")).toHaveText("\u2212$0.0030");
      await expect(row.locator(".tx-table__balance")).toContainText("$4.9940");
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      await snapshot(page, `credits-transactions-${name}`);

      // API tokens: every fact and the Revoke button on screen too.
      await page.goto("/settings/api-tokens");
      await hydrated(page);
      await page.getByLabel("Token name").fill("phone check");
      await page.getByRole("button", { name: "Create token" }).click();
      const token = page.getByTestId("tokens").getByRole("row", { name: /phone check/ });
      await onScreen(token.getByRole("button", { name: "Revoke phone check" }));
      await onScreen(token.getByRole("cell", { name: /Never/ }));
      await snapshot(page, `api-tokens-${name}`);
    });

    test("closing Get started gives focus to the page's heading", async ({ page }) => {
      await signUpGreeted(page, newEmail("focus"));
      await dismissOnboarding(page);
      await expect(page.getByRole("heading", { level: 1, name: "Credits" })).toBeFocused();
    });

    test("removing the OpenRouter key takes back 'OpenRouter is connected'", async ({ page }) => {
      await signUpAs(page, newEmail("or-notice"));
      await page.goto("/settings/api-keys");
      await hydrated(page);
      await page.locator("[data-provider=openrouter]").getByRole("link", { name: "Connect with OpenRouter" }).click();
      await expect(page).toHaveURL(/\/sandbox\/openrouter\/auth/);
      await page.getByRole("link", { name: "Authorize" }).click();
      await expect(page).toHaveURL(/\/settings\/api-keys\?notice=openrouter_connected$/);
      await hydrated(page);
      const banner = page.locator("[data-notice=openrouter_connected]");
      await expect(banner).toBeVisible();
      const card = page.locator("[data-provider=openrouter]");
      await card.getByRole("button", { name: "Remove" }).click();
      await card.getByRole("button", { name: "Remove key" }).click();
      await expect(card.getByTestId("key-status")).toHaveText("Not set");
      await expect(banner).toHaveCount(0);
      await expect(card).toContainText("Chat and text models (LLM calls).");
    });

    test("the Studio names models, not endpoint ids, and shows no request ids", async ({ page }) => {
      await signUpAs(page, newEmail("words"));
      await page.goto("/studio");
      await hydrated(page);
      await expect(page.getByLabel("Model").locator("option:checked")).toHaveText("FLUX.1 [schnell] ($0.0030 per image)");
      await page.getByLabel("Prompt").fill("a red fox");
      await page.getByRole("button", { name: "Generate" }).click();
      await expect(page.getByTestId("run-cost")).toContainText("charged to your credits");
      await expect(page.getByRole("main")).not.toContainText(/Request [0-9a-f-]{8,}/);
    });

    test("an empty sign-up form is told about both fields", async ({ page }) => {
      await page.goto("/signup");
      await hydrated(page);
      await page.getByRole("button", { name: "Create account" }).click();
      await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
      await expect(page.getByLabel("Password")).toHaveAttribute("aria-invalid", "true");
      await expect(page.locator("#field-email-error")).toHaveText("Enter your email address.");
      await expect(page.locator("#field-password-error")).toHaveText("Use at least 8 characters.");
    });
  });
}

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  for (const [name, viewport] of [
    ["desktop", DESKTOP],
    ["phone", PHONE],
  ] as const) {
    test(`a visitor's header offers Sign in and Sign up, and the home page prices (${name})`, async ({ page }) => {
      await page.setViewportSize(viewport);
      await page.goto("/");
      const header = page.getByRole("banner");
      await expect(header.getByRole("link", { name: "Sign in" })).toBeVisible();
      await expect(header.getByRole("link", { name: "Sign up" })).toBeVisible();
      await expect(page.getByTestId("pricing")).toContainText("from $0.0030 per image");
      await expect(page.getByRole("main").getByRole("link", { name: "Sign up: $5.00 free" })).toBeVisible();
    });
  }

  for (const [name, viewport] of [
    ["desktop", DESKTOP],
    ["phone", PHONE],
  ] as const) {
    test(`a refused form comes back as the page, with the message beside each field (${name})`, async ({ page }) => {
      await page.setViewportSize(viewport);
      await page.goto("/signup");
      await page.getByRole("button", { name: "Create account" }).click();
      await expect(page).toHaveURL(/\/signup$/);
      await expect(page.getByRole("heading", { name: "Create an account" })).toBeVisible();
      await expect(page.locator("body")).not.toContainText('"kind"');
      await expect(page.locator("#field-email-error")).toHaveText("Enter your email address.");
      await expect(page.locator("#field-password-error")).toHaveText("Use at least 8 characters.");
      await snapshot(page, `signup-errors-no-js-${name}`);
      // Shown once: the next visit is a clean form.
      await page.goto("/signup");
      await expect(page.locator("#field-email-error")).toHaveText("");

      // Signed up, a purchase amount refused by the server is said next to the amount.
      await page.getByLabel("Email").fill(newEmail("nojs-buy"));
      await page.getByLabel("Password").fill("a long enough password");
      await page.getByRole("button", { name: "Create account" }).click();
      await expect(page).toHaveURL(/\/credits$/);
      await page.getByLabel("Amount (USD)").fill("abc");
      await page.getByRole("button", { name: "Continue to payment" }).click();
      await expect(page).toHaveURL(/\/credits$/);
      await expect(page.getByTestId("amount-error")).toHaveText("Use dollars and cents, e.g. 12.50.");
      await page.getByLabel("Amount (USD)").fill("4");
      await page.getByRole("button", { name: "Continue to payment" }).click();
      await expect(page.getByTestId("amount-error")).toHaveText("The smallest purchase is $5.00.");
    });
  }
});

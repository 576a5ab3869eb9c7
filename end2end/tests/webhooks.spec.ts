import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

import { expect, hydrated, newEmail, signUpAs, test } from "./fixtures";

type Received = { path: string; headers: IncomingMessage["headers"]; body: string };

/**
 * A receiver on this machine: answers 200 and keeps what was sent to its own path (an
 * endpoint left by an earlier run may have had the same port).
 */
async function receiver(): Promise<{ url: string; got: Received[]; close: () => void }> {
  const path = `/hooks/${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      if (req.url === path) got.push({ path: req.url, headers: req.headers, body });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}${path}`, got, close: () => server.close() };
}

test("an administrator adds a webhook, its deliveries verify, and one is sent again", async ({ page }) => {
  const email = newEmail("hooks");
  await signUpAs(page, email);
  execFileSync("../target/debug/tollgate", ["admin", "create-admin", "--email", email]);
  const hook = await receiver();
  try {
    await page.goto("/admin/webhooks");
    await hydrated(page);
    await expect(page.getByRole("heading", { name: "Webhooks", level: 1 })).toBeVisible();
    // Other tests run at the same time: only this account's events count here.
    const me = await (await page.request.get("/api/v1/me")).json();
    const ours = () => hook.got.filter((r) => JSON.parse(r.body).account === me.id);

    // A bad address is refused next to its field.
    await page.getByLabel("URL").fill("ftp://example.com/hook");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await expect(page.locator("#field-url-error")).toContainText("http");

    await page.getByLabel("URL").fill(hook.url);
    await page.getByLabel("Events").fill("usage.charged, hold.placed");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const secret = (await page.getByTestId("webhook-secret").textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    await expect(page.getByTestId("endpoints")).toContainText(hook.url);
    await expect(page.getByTestId("endpoints")).toContainText("usage.charged, hold.placed");

    // A call makes a hold and a charge: both delivered, signed with that secret.
    expect((await page.request.post("/api/v1/run/fal-ai/flux/schnell", { data: { prompt: "a fox" } })).status()).toBe(200);
    await expect.poll(() => ours().length, { timeout: 10_000 }).toBe(2);
    for (const { headers, body } of hook.got) {
      const [t, v1] = String(headers["tollgate-signature"]).split(",").map((p) => p.split("=")[1]);
      expect(createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")).toBe(v1);
      expect(JSON.parse(body).id).toBe(headers["tollgate-event-id"]);
    }
    expect(ours().map((r) => JSON.parse(r.body).type)).toEqual(["hold.placed", "usage.charged"]);
    const [held, charged] = ours().map((r) => JSON.parse(r.body).id as string);

    // The log shows them delivered; "Send again" sends the same event once more.
    await expect(async () => {
      await page.reload();
      await hydrated(page);
      for (const id of [held, charged]) {
        const row = page.getByTestId("deliveries").locator("tr", { hasText: id }).filter({ hasText: hook.url });
        await expect(row).toHaveAttribute("data-status", "delivered", { timeout: 1000 });
        await expect(row).toContainText("HTTP 200");
      }
    }).toPass({ timeout: 10_000 });
    await page.getByRole("button", { name: `Send ${charged} to ${hook.url} again` }).click();
    await expect.poll(() => ours().length, { timeout: 10_000 }).toBe(3);
    expect(JSON.parse(ours()[2].body).id).toBe(charged);

    // Removed: nothing more is sent to it.
    await page.getByRole("button", { name: `Remove ${hook.url}` }).click();
    await expect(page.getByRole("button", { name: `Remove ${hook.url}` })).toHaveCount(0);
  } finally {
    hook.close();
  }
});

test("the webhooks page is for administrators only", async ({ page }) => {
  await signUpAs(page, newEmail("not-admin"));
  await page.goto("/admin/webhooks");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Access denied" })).toBeVisible();
  await expect(page.getByLabel("URL")).toHaveCount(0);
});

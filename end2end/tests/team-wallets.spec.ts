import { createTeamAndChooseIt, expect, hydrated, inviteAndJoin, newEmail, signUpAs, test } from "./fixtures";

test("a member spends from the team's wallet until their budget answers 402", async ({ browser }) => {
  // Two people in two browsers through a purchase, an invitation and five generations.
  test.slow();
  // The owner makes a team, picks its wallet in the header and buys credits for it.
  const owner = await (await browser.newContext()).newPage();
  await signUpAs(owner, newEmail("owner"));
  await createTeamAndChooseIt(owner, "Budget Studio");
  await owner.goto("/credits");
  await hydrated(owner);
  await expect(owner.getByRole("heading", { name: "Available balance of team Budget Studio" })).toBeVisible();
  await owner.getByRole("button", { name: "$50" }).click();
  await owner.getByRole("button", { name: "Continue to payment" }).click();
  await expect(owner).toHaveURL(/\/sandbox\/checkout\/cs_sandbox_/);
  await hydrated(owner);
  await owner.getByRole("button", { name: "Pay $50.00" }).click();
  await expect(owner).toHaveURL(/checkout=success/);
  await expect(owner.getByTestId("balance")).toHaveText("$55.00");
  // $50 paid for the team lifts its calls at once to the next tier.
  await owner.reload();
  await expect(owner.getByTestId("calls-at-once")).toHaveText(
    "You can run 10 generations at a time. Once purchases for this wallet add up to $100.00, you can run 40.",
  );

  // An invitation link, opened by a second person in their own browser.
  const memberEmail = newEmail("member");
  const member = await (await browser.newContext()).newPage();
  await signUpAs(member, memberEmail);
  await inviteAndJoin(owner, member, "Budget Studio");

  // The owner gives the member a budget of two images a day.
  await owner.reload();
  await hydrated(owner);
  // Bad input is named next to the form and changes nothing.
  await owner.getByLabel(`Budget for ${memberEmail} in USD`).fill("abc");
  await owner.getByTestId(`budget-${memberEmail}`).getByRole("button", { name: "Set budget" }).click();
  await expect(owner.getByRole("alert").filter({ hasText: "limit:" })).toBeVisible();
  await expect(owner.getByTestId(`budget-${memberEmail}`)).toContainText("No limit");
  await owner.getByLabel(`Budget for ${memberEmail} in USD`).fill("0.006");
  await owner.getByLabel(`Budget window for ${memberEmail}`).selectOption("day");
  await owner.getByTestId(`budget-${memberEmail}`).getByRole("button", { name: "Set budget" }).click();
  await expect(owner.getByTestId(`budget-${memberEmail}`)).toContainText("$0.0060 per day (UTC), $0.0060 left");

  // The member picks the team's wallet and generates until the budget stops them.
  await member.goto("/studio");
  await hydrated(member);
  await member.getByTestId("wallet-switcher").selectOption({ label: "Team: Budget Studio" });
  await expect(member.getByTestId("header-balance")).toHaveText("$55.00");
  await hydrated(member);
  const generate = member.getByRole("button", { name: "Generate" });
  for (const prompt of ["a red fox", "a blue fox"]) {
    await member.getByLabel("Prompt").fill(prompt);
    await generate.click();
    await expect(member.getByRole("img", { name: /Generated image/ }).first()).toBeVisible();
  }
  await member.getByLabel("Prompt").fill("a third fox");
  await generate.click();
  const gate = member.getByRole("dialog", { name: "Budget reached" });
  await expect(gate).toContainText(/This needs \$0\.0030, and the member budget/);
  await expect(gate).toBeVisible();
  await expect(gate).toContainText("has $0.00 left. It resets at");
  await member.keyboard.press("Escape");
  await expect(gate).toBeHidden();
  // Closed, the reason stays said beside the button.
  await expect(member.getByRole("alert")).toContainText(/This needs \$0\.0030, and the member budget/);

  // The team's usage says who spent what; the member's own wallet was not touched.
  await owner.goto("/credits");
  await hydrated(owner);
  await expect(owner.getByTestId("balance")).toHaveText("$54.9940");
  await expect(owner.getByTestId("usage-members")).toContainText(memberEmail);
  await expect(owner.getByTestId("usage-members")).toContainText("$0.0060");
  await expect(owner.getByTestId("usage-history")).toContainText(memberEmail);
  await member.getByTestId("wallet-switcher").selectOption({ label: "Personal" });
  await expect(member.getByTestId("header-balance")).toHaveText("$5.00");
});

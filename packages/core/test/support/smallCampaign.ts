/** A small Instagram campaign on profile "studio" (post p1, keyword guide) for tests, with any key replaced. */
import * as CampaignSpec from "../../src/CampaignSpec.js"

export const smallCampaign = (extra: Partial<CampaignSpec.Input> = {}) =>
  CampaignSpec.make({
    name: "spring",
    platform: "instagram",
    user: "studio",
    posts: ["p1"],
    match: { keywords: ["guide"] },
    message: "Hi",
    ...extra
  })

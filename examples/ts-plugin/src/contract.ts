// The plugin contract's types, named for use in this code. Every one of them comes from
// src/generated/plugin-api.ts (generated from openapi/plugin-api.yaml): none is written by hand.
import type { components, operations } from "./generated/plugin-api.js";

export { eventStatusValues } from "./generated/plugin-api.js";

type Schemas = components["schemas"];

export type Manifest = Schemas["Manifest"];
export type Venue = Schemas["Venue"];
export type Health = Schemas["Health"];
export type Event = Schemas["Event"];
export type EventStatus = Schemas["EventStatus"];
export type EventsPage = Schemas["EventsPage"];
export type Problem = Schemas["Problem"];

/** The query parameters of `GET /v1/events`, as the contract names and types them. */
export type ListEventsQuery = NonNullable<operations["listEvents"]["parameters"]["query"]>;

/** The contract revision this plugin implements, and the range of revisions it can speak. */
export const CONTRACT_VERSION = "1.1";
export const CONTRACT_VERSIONS: NonNullable<Manifest["contract_versions"]> = {
  min: "1.0",
  max: "1.1",
};

/** `limit` when the request gives none (the contract's default). */
export const DEFAULT_LIMIT = 100;
/** The largest `max_page_size` the contract allows. */
export const MAX_PAGE_SIZE_LIMIT = 10000;

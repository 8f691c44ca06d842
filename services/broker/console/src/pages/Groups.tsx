import { ErrorNote, Page, count, href } from "../components";
import { useLive } from "../hooks";
import { GroupRow } from "../types";

export function Groups() {
  const live = useLive<GroupRow[]>("/console/api/stream/groups", "groups");
  return (
    <Page title="Consumer groups" live={live.state}>
      <ErrorNote error={live.error} />
      <div class="scroll">
        <table data-testid="groups">
          <caption class="sr-only">Consumer groups by topic</caption>
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">Topic</th>
              <th scope="col" class="num">Lag</th>
              <th scope="col" class="num">In flight</th>
              <th scope="col" class="num">Subscribers</th>
            </tr>
          </thead>
          <tbody>
            {live.data?.length === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  No consumer group has committed yet.
                </td>
              </tr>
            )}
            {(live.data ?? []).map((g) => (
              <tr key={`${g.group}/${g.topic}`} data-group={g.group} data-topic={g.topic}>
                <td>
                  <a href={href("groups", g.group)}>{g.group}</a>
                </td>
                <td>
                  <a href={href("topics", g.topic)}>{g.topic}</a>
                </td>
                <td class={`num ${g.lag > 0 ? "warn" : ""}`} data-testid="lag">
                  {count(g.lag)}
                </td>
                <td class="num">{count(g.inflight)}</td>
                <td class="num">{count(g.subscribers)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

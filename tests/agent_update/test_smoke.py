from tests.agent_update.helpers import World


def test_good_update_commits(world: World, release_2: str) -> None:
    world.request(release_2, "2.0.0")
    codes = world.boot()
    print(codes, world.runs(), world.state())
    assert world.runs()[-1] == "2.0.0 ok"
    assert world.state()["outcome"] == "committed"
